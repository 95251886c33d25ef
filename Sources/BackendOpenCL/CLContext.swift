// CLContext: OpenCL devices enumerated across every platform, and the context + in-order profiling queue of the
// one device a backend runs on. Not here: programs (CLProgramCache) and buffers (CLBuffer).
import COpenCL
import Foundation
import GPTCore

// MARK: - Devices

/// One OpenCL device. `index` counts devices over all platforms in enumeration order (BackendOptions.deviceIndex).
public struct CLDevice: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: the two ids are immutable handles owned by the ICD loader for the life of the process.
    let platformID: cl_platform_id
    let deviceID: cl_device_id

    public let index: Int
    public let name: String
    public let vendor: String
    public let driverVersion: String
    /// "OpenCL 3.0 PoCL …", "OpenCL 3.0 CUDA …".
    public let version: String
    public let platformName: String
    public let isGPU: Bool
    public let computeUnits: Int
    public let maxWorkGroupSize: Int
    public let globalMemoryBytes: UInt64
    public let maxAllocationBytes: UInt64
    public let localMemoryBytes: UInt64

    /// Every device of every platform. Throws `CLError.noPlatform` when the ICD loader finds no driver.
    public static func all() throws -> [CLDevice] {
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR (-1001) when no vendor driver is installed.
        if status == -1001 || (status == CL_SUCCESS && platformCount == 0) { throw CLError.noPlatform }
        try cl(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try cl(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var devices: [CLDevice] = []
        for case let platform? in platforms {
            var deviceCount: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if s == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try cl(s, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try cl(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &ids, nil),
                   "clGetDeviceIDs")
            for case let id? in ids {
                devices.append(try CLDevice(platform: platform, device: id, index: devices.count))
            }
        }
        return devices
    }

    /// The device at `index` over all platforms; a bad index throws an error that lists the devices.
    public static func at(_ index: Int) throws -> CLDevice {
        let devices = try all()
        guard devices.indices.contains(index) else {
            throw CLError.badDeviceIndex(index, devices: devices.map(\.description))
        }
        return devices[index]
    }

    init(platform: cl_platform_id, device: cl_device_id, index: Int) throws {
        platformID = platform
        deviceID = device
        self.index = index
        name = try Self.string(device, CL_DEVICE_NAME).trimmingCharacters(in: .whitespaces)
        vendor = try Self.string(device, CL_DEVICE_VENDOR)
        driverVersion = try Self.string(device, CL_DRIVER_VERSION)
        version = try Self.string(device, CL_DEVICE_VERSION)
        platformName = try Self.platformString(platform, CL_PLATFORM_NAME)
        let type: cl_device_type = try Self.value(device, CL_DEVICE_TYPE)
        isGPU = type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0
        computeUnits = Int(try Self.value(device, CL_DEVICE_MAX_COMPUTE_UNITS) as cl_uint)
        maxWorkGroupSize = Int(try Self.value(device, CL_DEVICE_MAX_WORK_GROUP_SIZE) as Int)
        globalMemoryBytes = try Self.value(device, CL_DEVICE_GLOBAL_MEM_SIZE)
        maxAllocationBytes = try Self.value(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE)
        localMemoryBytes = try Self.value(device, CL_DEVICE_LOCAL_MEM_SIZE)
    }

    /// "NAME (PLATFORM, GPU|CPU|accelerator)", as device lists print it.
    public var description: String {
        "\(name) (\(platformName), \(isGPU ? "GPU" : "not a GPU"))"
    }

    /// The facts `gpt backends` prints.
    public var info: DeviceInfo {
        DeviceInfo(
            name: name,
            details: [
                ("index", "\(index)"),
                ("platform", platformName),
                ("vendor", vendor),
                ("type", isGPU ? "GPU" : "not a GPU"),
                ("version", version),
                ("driver", driverVersion),
                ("global memory", "\(globalMemoryBytes / (1 << 20)) MiB"),
                ("max allocation", "\(maxAllocationBytes / (1 << 20)) MiB"),
                ("local memory", "\(localMemoryBytes / 1024) KiB"),
                ("compute units", "\(computeUnits)"),
                ("max work-group size", "\(maxWorkGroupSize)"),
                ("weights", "quantized blocks resident on the device (\(WeightFormat.names(OpenCLBackend.weightFormats)))"),
            ])
    }

    // MARK: Info queries

    static func string(_ device: cl_device_id, _ param: Int32) throws -> String {
        var size = 0
        try cl(clGetDeviceInfo(device, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo(\(param))")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try cl(clGetDeviceInfo(device, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo(\(param))")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func platformString(_ platform: cl_platform_id, _ param: Int32) throws -> String {
        var size = 0
        try cl(clGetPlatformInfo(platform, cl_platform_info(param), 0, nil, &size), "clGetPlatformInfo(\(param))")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try cl(clGetPlatformInfo(platform, cl_platform_info(param), size, &bytes, nil), "clGetPlatformInfo(\(param))")
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func value<T: FixedWidthInteger>(_ device: cl_device_id, _ param: Int32) throws -> T {
        var v: T = 0
        try cl(clGetDeviceInfo(device, cl_device_info(param), MemoryLayout<T>.size, &v, nil),
               "clGetDeviceInfo(\(param))")
        return v
    }
}

// MARK: - Context and queue

/// The context and the one in-order command queue (profiling enabled) of a device. Buffers and programs keep it
/// alive; it releases the queue, then the context.
public final class CLContext {
    public let device: CLDevice
    let context: cl_context
    let queue: cl_command_queue

    public init(device: CLDevice) throws {
        self.device = device
        var status: cl_int = 0
        var deviceID: cl_device_id? = device.deviceID
        guard let ctx = clCreateContext(nil, 1, &deviceID, nil, nil, &status), status == CL_SUCCESS else {
            try cl(status, "clCreateContext(\(device.name))")
            throw CLError.call(status: status, what: "clCreateContext(\(device.name))")
        }
        context = ctx
        // In order: each op sees the results of the ops before it without events. Profiling costs nothing
        // measurable when no one asks for the times.
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let q = clCreateCommandQueue(ctx, device.deviceID, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(ctx)
            try cl(status, "clCreateCommandQueue(\(device.name))")
            throw CLError.call(status: status, what: "clCreateCommandQueue(\(device.name))")
        }
        queue = q
    }

    deinit {
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Blocks until every enqueued command has finished.
    public func finish() throws {
        try cl(clFinish(queue), "clFinish")
    }
}
