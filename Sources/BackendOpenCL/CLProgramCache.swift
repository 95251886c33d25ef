// CLProgramCache: builds OpenCL programs once per device and keeps their binaries on disk, so the next start-up
// skips the compiler. Key: a hash of platform, device name, device and driver versions, build options and source
// (tinygrad hashes device name + driver version; ggml-opencl's cl-program-cache does the same on disk).
// A binary that no longer loads (driver upgraded in place, truncated file) falls back to a source build.
import COpenCL
import Foundation

/// Where a program came from, for tests and `-v` reports.
public enum CLProgramOrigin: String, Sendable {
    case binaryCache = "binary cache"
    case source
}

public final class CLProgramCache {
    /// Folder of `<hash>.bin` files; nil keeps nothing on disk.
    public let directory: URL?
    /// How each program of this cache was obtained, in build order.
    public private(set) var builds: [(program: String, origin: CLProgramOrigin)] = []
    public var hits: Int { builds.filter { $0.origin == .binaryCache }.count }
    public var misses: Int { builds.filter { $0.origin == .source }.count }

    public init(directory: URL?) {
        self.directory = directory
    }

    /// `${XDG_CACHE_HOME:-~/.cache}/swiftgpt/opencl`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let base: URL
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            base = URL(fileURLWithPath: xdg, isDirectory: true)
        } else {
            base = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache", isDirectory: true)
        }
        return base.appendingPathComponent("swiftgpt/opencl", isDirectory: true)
    }

    /// The program `name` built from `source` with `options` for the context's device: from the cached binary when
    /// one matches, else compiled (and its binary cached).
    func program(_ name: String, source: String, options: String, context: CLContext) throws -> CLProgram {
        let d = context.device
        let key = Self.hashHex([d.platformName, d.name, d.version, d.driverVersion, options, source])
        let file = directory?.appendingPathComponent("\(name)-\(key).bin")
        if let file, let binary = try? Data(contentsOf: file), !binary.isEmpty,
            let program = try? CLProgram(binary: binary, name: name, options: options, context: context)
        {
            builds.append((name, .binaryCache))
            return program
        }
        let program = try CLProgram(source: source, name: name, options: options, context: context)
        builds.append((name, .source))
        if let file, let directory, let binary = try? program.binary() {
            // Best effort: a read-only home only costs the next start-up a compile.
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? binary.write(to: file, options: .atomic)
        }
        return program
    }

    /// 128-bit FNV-1a (two 64-bit lanes with different offset bases) of the parts, separated by NUL, in hex.
    /// Not cryptographic: a collision costs a failed binary load at worst, which falls back to source.
    static func hashHex(_ parts: [String]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x8422_2325_cbf2_9ce4
        let prime: UInt64 = 0x0000_0100_0000_01b3
        for part in parts {
            for byte in part.utf8 + [0] {
                a = (a ^ UInt64(byte)) &* prime
                b = (b ^ UInt64(byte ^ 0x5a)) &* prime
            }
        }
        return String(a, radix: 16).leftPad(16) + String(b, radix: 16).leftPad(16)
    }
}

extension String {
    fileprivate func leftPad(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

// MARK: - Programs and kernels

/// A built cl_program. Kernels made from it retain it, so it may go before them.
final class CLProgram {
    let program: cl_program
    let name: String
    let device: CLDevice

    init(source: String, name: String, options: String, context: CLContext) throws {
        var status: cl_int = 0
        let created: cl_program? = source.withCString { text in
            var p: UnsafePointer<CChar>? = text
            return clCreateProgramWithSource(context.context, 1, &p, nil, &status)
        }
        guard let created, status == CL_SUCCESS else {
            throw CLError.call(status: status, what: "clCreateProgramWithSource(\(name))")
        }
        program = created
        self.name = name
        device = context.device
        try build(options: options)
    }

    init(binary: Data, name: String, options: String, context: CLContext) throws {
        var status: cl_int = 0
        var binaryStatus: cl_int = 0
        var deviceID: cl_device_id? = context.device.deviceID
        var length = binary.count
        let created: cl_program? = binary.withUnsafeBytes { raw in
            var p: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context.context, 1, &deviceID, &length, &p, &binaryStatus, &status)
        }
        guard let created, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let created { clReleaseProgram(created) }
            throw CLError.call(status: status != CL_SUCCESS ? status : binaryStatus,
                               what: "clCreateProgramWithBinary(\(name))")
        }
        program = created
        self.name = name
        device = context.device
        try build(options: options)
    }

    deinit { clReleaseProgram(program) }

    private func build(options: String) throws {
        var deviceID: cl_device_id? = device.deviceID
        let status = clBuildProgram(program, 1, &deviceID, options, nil, nil)
        if status == CL_BUILD_PROGRAM_FAILURE {
            throw CLError.build(program: name, device: device.name, log: buildLog())
        }
        try cl(status, "clBuildProgram(\(name))")
    }

    func buildLog() -> String {
        var size = 0
        clGetProgramBuildInfo(program, device.deviceID, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        clGetProgramBuildInfo(program, device.deviceID, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The device binary (CL_PROGRAM_BINARIES of the one device).
    func binary() throws -> Data {
        var size = 0
        try cl(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
               "CL_PROGRAM_BINARY_SIZES(\(name))")
        guard size > 0 else { throw CLError.call(status: CL_INVALID_BINARY, what: "empty binary of \(name)") }
        var data = Data(count: size)
        try data.withUnsafeMutableBytes { raw in
            var p: UnsafeMutableRawPointer? = raw.baseAddress
            try cl(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutableRawPointer>.size,
                                    &p, nil), "CL_PROGRAM_BINARIES(\(name))")
        }
        return data
    }

    func kernel(_ name: String) throws -> CLKernel {
        var status: cl_int = 0
        guard let k = clCreateKernel(program, name, &status), status == CL_SUCCESS else {
            throw CLError.call(status: status, what: "clCreateKernel(\(name)) in \(self.name)")
        }
        return try CLKernel(k, name: name, device: device)
    }
}

/// One entry point (`kernel_<op>_<fmt>`) and what the device allows for it.
final class CLKernel {
    let kernel: cl_kernel
    let name: String
    /// CL_KERNEL_WORK_GROUP_SIZE: the largest work-group this kernel runs with (registers may make it smaller than
    /// the device's maximum).
    let maxWorkGroupSize: Int
    /// CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE: the SIMD width (warp 32, wavefront 64, PoCL's vector width).
    let preferredMultiple: Int
    /// CL_KERNEL_LOCAL_MEM_SIZE: local memory the kernel declares statically.
    let staticLocalBytes: UInt64

    init(_ kernel: cl_kernel, name: String, device: CLDevice) throws {
        self.kernel = kernel
        self.name = name
        var wg = 0
        var multiple = 0
        var local: cl_ulong = 0
        let info = { (param: Int32, size: Int, p: UnsafeMutableRawPointer) in
            try cl(clGetKernelWorkGroupInfo(kernel, device.deviceID, cl_kernel_work_group_info(param), size, p, nil),
                   "clGetKernelWorkGroupInfo(\(name), \(param))")
        }
        try info(CL_KERNEL_WORK_GROUP_SIZE, MemoryLayout<Int>.size, &wg)
        try info(CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, MemoryLayout<Int>.size, &multiple)
        try info(CL_KERNEL_LOCAL_MEM_SIZE, MemoryLayout<cl_ulong>.size, &local)
        maxWorkGroupSize = max(1, wg)
        preferredMultiple = max(1, multiple)
        staticLocalBytes = local
    }

    deinit { clReleaseKernel(kernel) }

    /// The work-group size for a reduction kernel: the largest power of two not above `cap` nor the kernel's
    /// limit. Powers of two keep the tree reductions simple; every GPU's SIMD width divides them.
    func reductionSize(cap: Int) -> Int {
        var size = 1
        while size * 2 <= min(cap, maxWorkGroupSize) { size *= 2 }
        return size
    }

    // MARK: Arguments

    func set(_ index: Int, _ buffer: CLBuffer) throws {
        var mem: cl_mem? = buffer.mem
        try cl(clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &mem), "\(name) arg \(index)")
    }

    func set(_ index: Int, _ value: Int) throws {
        precondition(value >= Int(Int32.min) && value <= Int(Int32.max), "\(name) arg \(index) = \(value)")
        var v = cl_int(value)
        try cl(clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_int>.size, &v), "\(name) arg \(index)")
    }

    func set(_ index: Int, _ value: Float) throws {
        var v = value
        try cl(clSetKernelArg(kernel, cl_uint(index), MemoryLayout<Float>.size, &v), "\(name) arg \(index)")
    }

    /// A `local` array argument of `floats` floats.
    func setLocal(_ index: Int, floats: Int) throws {
        try cl(clSetKernelArg(kernel, cl_uint(index), max(1, floats) * MemoryLayout<Float>.size, nil),
               "\(name) local arg \(index)")
    }
}
