// The OpenCL runtime around the kernels: program binary cache, device selection errors, profiling, registration.
import BackendOpenCL
import Foundation
import GPTCore
import Testing

@Suite(.serialized, .enabled(if: openCLAvailable, "no OpenCL platform: apt install pocl-opencl-icd"))
struct OpenCLRuntime {
    /// First start-up compiles every program from source and stores the binaries; the second loads them.
    @Test func programCacheHitOnSecondBuild() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftgpt-ocl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }

        let clock = ContinuousClock()
        var first: OpenCLBackend?
        let firstTime = try clock.measure { first = try OpenCLBackend(cacheDirectory: dir) }
        var second: OpenCLBackend?
        let secondTime = try clock.measure { second = try OpenCLBackend(cacheDirectory: dir) }
        let (a, b) = (try #require(first), try #require(second))
        print("opencl start-up on \(a.context.device.name): first (compile) \(firstTime), second (cache) \(secondTime)")

        #expect(a.programCache.misses > 0 && a.programCache.hits == 0, "\(a.programCache.builds)")
        #expect(b.programCache.hits == a.programCache.misses && b.programCache.misses == 0, "\(b.programCache.builds)")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".bin") }
        #expect(files.count == a.programCache.misses)

        // A corrupt binary falls back to a source build.
        for f in files { try Data("not a binary".utf8).write(to: dir.appendingPathComponent(f)) }
        let third = try OpenCLBackend(cacheDirectory: dir)
        #expect(third.programCache.misses == files.count, "\(third.programCache.builds)")
        // And the program built from cache computes: one matmul on the second backend.
        let x = try upload(b, [1, 32], [Float](repeating: 1, count: 32))
        let w = try upload(b, [2, 32], (0..<64).map { Float($0) })
        let out = try b.allocate([1, 2], .f32, label: "out")
        try b.run(.matmul(outs: [out], x: x, weights: [w], rows: 1))
        #expect(try download(b, out) == [496, 1520])
    }

    @Test func cacheDirectoryFollowsXDG() {
        #expect(CLProgramCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/tmp/x"]).path
                == "/tmp/x/swiftgpt/opencl")
        #expect(CLProgramCache.defaultDirectory(environment: [:]).path.hasSuffix(".cache/swiftgpt/opencl"))
    }

    @Test func badDeviceIndexListsDevices() throws {
        let devices = try CLDevice.all()
        let bad = devices.count + 3
        do {
            _ = try OpenCLBackend(options: BackendOptions(deviceIndex: bad), cacheDirectory: nil)
            Issue.record("device index \(bad) was accepted")
        } catch let error as CLError {
            #expect(error == .badDeviceIndex(bad, devices: devices.map(\.description)))
            let text = "\(error)"
            #expect(text.contains("index \(bad) is out of range") && text.contains("0: \(devices[0].name)"), "\(text)")
        }
        guard case .unavailable(let reason) = BackendEntry.opencl.probe(BackendOptions(deviceIndex: bad)) else {
            Issue.record("probe accepted device index \(bad)")
            return
        }
        #expect(reason.contains("out of range"), "\(reason)")
        let registry = BackendRegistry([.opencl])
        #expect(throws: BackendError.self) { try registry.make("opencl", options: BackendOptions(deviceIndex: bad)) }
    }

    @Test func registration() throws {
        #expect(BackendEntry.opencl.name == "opencl")
        guard case .available(let info) = BackendEntry.opencl.probe(BackendOptions()) else {
            Issue.record("probe: no device 0")
            return
        }
        let b = try backend()
        #expect(info.name == b.context.device.name)
        #expect(b.supports(.matmul, .q4_0) && b.supports(.embedding, .q8_0) && !b.supports(.rmsNorm, .f16))
        print("opencl device: \(b.device)")
    }

    @Test func clErrorNamesStatus() {
        #expect("\(CLError.call(status: -54, what: "kernel_x"))" == "OpenCL: kernel_x failed: CL_INVALID_WORK_GROUP_SIZE (-54)")
        #expect(CLError.name(of: -11) == "CL_BUILD_PROGRAM_FAILURE")
        #expect("\(CLError.noPlatform)".contains("apt install pocl-opencl-icd"))
    }

    @Test func foreignTensorIsRejected() throws {
        let b = try backend()
        let other = try OpenCLBackend(cacheDirectory: CLProgramCache.defaultDirectory())
        let t = try other.allocate([2, 4], .f32, label: "theirs")
        let mine = try b.allocate([2, 4], .f32, label: "mine")
        #expect(throws: BackendError.self) { try b.run(.add(out: mine, a: mine, b: t, rows: 2)) }
    }

    @Test func profilingRecordsKernelTimes() throws {
        let b = try backend()
        b.profiling = true
        defer {
            b.profiling = false
            _ = b.drainKernelTimings()
        }
        let x = try upload(b, [4, 64], [Float](repeating: 0.5, count: 256))
        let w = try upload(b, [64], [Float](repeating: 1, count: 64))
        try b.run(.rmsNorm(out: x, x: x, weight: w, rows: 4, eps: 1e-6))
        try b.run(.gelu(out: x, x: x, rows: 4))
        try b.synchronize()
        let timings = b.drainKernelTimings()
        #expect(timings.map(\.name) == ["kernel_rms_norm_f32", "kernel_gelu_f32"])
        #expect(timings.allSatisfy { $0.endNs >= $0.startNs && $0.startNs > 0 })
        #expect(b.drainKernelTimings().isEmpty)
    }
}
