// OpenCLBackend ("opencl"): every op as an OpenCL kernel on one device. Weights are uploaded once in their GGUF
// formats (quantized blocks stay quantized on the device), activations and the KV cache live on the device, and
// ops are only enqueued: `read` and `synchronize` are the only calls that wait. Kernels are in Kernels/*.cl,
// embedded in the binary; this file picks work-group sizes for the device and sets kernel arguments.
// Not here: the kernels' math (Kernels/*.cl), device enumeration (CLContext.swift), the binary cache.
import COpenCL
import Foundation
import GPTCore

/// Start and end of one command on the device, from OpenCL profiling events (nanoseconds, device clock).
public struct CLKernelTiming: Sendable {
    public var name: String
    public var startNs: UInt64
    public var endNs: UInt64
    public var durationNs: UInt64 { endNs >= startNs ? endNs - startNs : 0 }
}

public final class OpenCLBackend: Backend {
    public let name = "opencl"
    public let context: CLContext
    public let programCache: CLProgramCache
    /// Wall time the programs took to get ready in `init` (source compile, or binary cache load).
    public let programSeconds: Double

    /// When true, every enqueued command keeps its event and `synchronize`/`read` append its device times to
    /// `kernelTimings` (for the profiler). Off by default: no events are created.
    public var profiling = false
    public private(set) var kernelTimings: [CLKernelTiming] = []
    private var pendingEvents: [(name: String, event: cl_event)] = []

    private let kernels: Kernels
    /// Tile shape of the matrix-matrix kernels, or nil when this device cannot run them (then prefill runs the
    /// matrix-vector kernels once per token row).
    private let tiling: (ts: Int, wpt: Int)?

    // Device scratch, grown on demand and reused: naive attention scores, flash-decoding partials.
    private var scoreScratch: CLBuffer?
    private var partialScratch: CLBuffer?
    // Rows of one sequence's queries and outputs when they do not start at row 0.
    private var queryScratch: CLBuffer?
    private var outputScratch: CLBuffer?

    /// Makes the backend on device `options.deviceIndex` (all platforms, enumeration order).
    /// - Parameter cacheDirectory: where program binaries are cached; nil compiles from source every time.
    public init(options: BackendOptions = BackendOptions(),
                cacheDirectory: URL? = CLProgramCache.defaultDirectory()) throws {
        let device = try CLDevice.at(options.deviceIndex)
        context = try CLContext(device: device)
        programCache = CLProgramCache(directory: cacheDirectory)
        let start = DispatchTime.now().uptimeNanoseconds
        // 16x16 work-items of 4x4 outputs (64x64 tiles, 16 KiB of local tiles) where the device allows 256
        // work-items, else 8x8 (32x32 tiles, 8 KiB); both fit the 32 KiB every OpenCL 1.2 device has.
        let ts = device.maxWorkGroupSize >= 256 ? 16 : (device.maxWorkGroupSize >= 64 ? 8 : 0)
        kernels = try Kernels(context: context, cache: programCache, ts: max(ts, 4), wpt: 4)
        programSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let mmFits = ts > 0 && kernels.matmulMM.values.allSatisfy { $0.maxWorkGroupSize >= ts * ts }
        tiling = mmFits ? (ts, 4) : nil
    }

    deinit {
        for (_, event) in pendingEvents { clReleaseEvent(event) }
    }

    public var device: DeviceInfo {
        var info = context.device.info
        info.details.append(("matmul tiles", tiling.map { "\($0.ts * $0.wpt)x\($0.ts * $0.wpt)" } ?? "none (mv only)"))
        info.details.append(("programs", "\(programCache.hits) from cache, \(programCache.misses) compiled"))
        return info
    }

    /// The formats whose matrices stay resident in their packed form (every one with a kernel).
    public static var weightFormats: [WeightFormat] { Kernels.formats }

    public func supports(_ op: OpKind, _ format: WeightFormat) -> Bool {
        switch op {
        case .matmul, .embedding: Kernels.formats.contains(format)
        default: format == .f32
        }
    }

    /// The registry probe: the device `options.deviceIndex` names, or why there is none.
    public static func probe(_ options: BackendOptions) -> Availability {
        do {
            return .available(try CLDevice.at(options.deviceIndex).info)
        } catch {
            return .unavailable(reason: "\(error)")
        }
    }

    /// Whether this machine has a device node a GPU's OpenCL driver opens (NVIDIA, AMD ROCm, Mali, or any DRM render
    /// node: Intel, AMD, Mesa). Without one, the only OpenCL device can be a CPU one (PoCL), so `auto` need not load
    /// the OpenCL runtime: PoCL brings LLVM, ~60 MiB resident and ~50 ms, for a device ranked below openmp anyway.
    public static func gpuDeviceNodesPresent(devDirectory: String = "/dev") -> Bool {
        let fm = FileManager.default
        let dev = (try? fm.contentsOfDirectory(atPath: devDirectory)) ?? []
        if dev.contains(where: { $0.hasPrefix("nvidia") || $0 == "kfd" || $0.hasPrefix("mali") }) { return true }
        let dri = (try? fm.contentsOfDirectory(atPath: devDirectory + "/dri")) ?? []
        return dri.contains { $0.hasPrefix("renderD") }
    }

    // MARK: - Memory

    public func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor {
        try CLBuffer(context: context, shape: shape, format: format, label: label)
    }

    /// Blocking upload (weights, once): the host bytes need not outlive the call.
    public func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        let b = try buffer(t, .copyRows)
        guard bytes.count == b.bytes, let base = bytes.baseAddress else {
            throw BackendError.shapeMismatch(op: .copyRows, "\(b.label): \(bytes.count) bytes for \(b.bytes)")
        }
        try cl(clEnqueueWriteBuffer(context.queue, b.mem, cl_bool(CL_TRUE), 0, bytes.count, base, 0, nil, nil),
               "write \(b.label)")
    }

    /// Blocking download of the first `floats.count` elements; waits for every op before it.
    public func read(_ t: any DeviceTensor, into floats: UnsafeMutableBufferPointer<Float>) throws {
        let b = try f32(t, .copyRows)
        guard floats.count <= b.count else {
            throw BackendError.shapeMismatch(op: .copyRows, "read \(floats.count) floats of \(b.label) \(b.shape)")
        }
        guard let base = floats.baseAddress, floats.count > 0 else { return }
        try cl(clEnqueueReadBuffer(context.queue, b.mem, cl_bool(CL_TRUE), 0, floats.count * 4, base, 0, nil, nil),
               "read \(b.label)")
        try collectTimings()
    }

    public func synchronize() throws {
        try context.finish()
        try collectTimings()
    }

    /// Returns and clears the recorded kernel times.
    public func drainKernelTimings() -> [CLKernelTiming] {
        defer { kernelTimings.removeAll() }
        return kernelTimings
    }

    // MARK: - Ops

    public func run(_ op: Op) throws {
        switch op {
        case .embedding(let out, let table, let tokens):
            let (o, tb) = (try f32(out, .embedding), try buffer(table, .embedding))
            try check(.embedding, tokens.count <= o.rows && o.cols == tb.cols, "\(tokens.count) tokens into \(o.shape)")
            for id in tokens where id < 0 || Int(id) >= tb.rows {
                throw BackendError.shapeMismatch(op: .embedding, "token \(id) outside table of \(tb.rows) rows")
            }
            guard !tokens.isEmpty else { return }
            guard let k = kernels.embedding[tb.format] else {
                throw BackendError.unsupported(op: .embedding, format: tb.format, backend: name)
            }
            let ids = try tokens.withUnsafeBytes {
                try CLBuffer(context: context, copying: $0, shape: [tokens.count], format: .f32, label: "token ids")
            }
            let ls = k.reductionSize(cap: 64)
            try launch(k, [o, tb, ids, tb.cols], global: [roundUp(tb.cols, ls), tokens.count], local: [ls, 1])

        case .rmsNorm(let out, let x, let weight, let rows, let eps):
            let (o, xi, w) = (try f32(out, .rmsNorm), try f32(x, .rmsNorm), try f32(weight, .rmsNorm))
            try checkRows(.rmsNorm, rows, o, xi)
            try check(.rmsNorm, w.count > 0 && xi.cols % w.count == 0, "weight \(w.shape) for rows of \(xi.cols)")
            guard rows > 0 else { return }
            // a weight shorter than a row normalises each group of w.count elements (per-head norms)
            let groups = rows * (xi.cols / w.count)
            let k = kernels.rmsNorm
            let ls = k.reductionSize(cap: 256)
            try launch(k, [o, xi, w, w.count, eps, CLLocal(floats: ls)], global: [ls * groups], local: [ls])

        case .layerNorm(let out, let x, let weight, let bias, let rows, let eps):
            let (o, xi) = (try f32(out, .layerNorm), try f32(x, .layerNorm))
            let (w, b) = (try f32(weight, .layerNorm), try f32(bias, .layerNorm))
            try checkRows(.layerNorm, rows, o, xi)
            try check(.layerNorm, w.count == xi.cols && b.count == xi.cols, "weight/bias for rows of \(xi.cols)")
            guard rows > 0 else { return }
            let k = kernels.layerNorm
            let ls = k.reductionSize(cap: 256)
            try launch(k, [o, xi, w, b, xi.cols, eps, CLLocal(floats: ls)], global: [ls * rows], local: [ls])

        case .matmul(let outs, let x, let ws, let rows):
            try check(.matmul, !ws.isEmpty && outs.count == ws.count, "\(outs.count) outputs for \(ws.count) matrices")
            for (out, w) in zip(outs, ws) { try matmul(out, x, w, rows: rows) }

        case .rope(let r) where !r.positions.isEmpty:
            try check(.rope, r.positions.count == r.rows, "\(r.positions.count) positions for \(r.rows) rows")
            for run in r.runs { try self.run(.rope(run)) }

        case .rope(let r):
            let xi = try f32(r.x, .rope)
            try check(.rope, r.row >= 0 && r.row + r.rows <= xi.rows && xi.cols == r.nHeads * r.headDim
                      && r.headDim % 2 == 0 && r.startPos >= 0,
                      "rows \(r.row)..<\(r.row + r.rows) of \(xi.shape) as \(r.nHeads) heads of \(r.headDim)")
            guard r.rows > 0 else { return }
            // Host powf, as ck_ref_rope and llama.cpp compute it (glibc's powf is correctly rounded).
            let thetaScale = powf(r.freqBase, -2 / Float(r.headDim))
            let k = kernels.rope
            let pairs = r.headDim / 2
            let l0 = k.reductionSize(cap: min(64, pairs))
            // without factors x stands in for the unread buffer argument
            let factors = try r.freqFactors.map { try f32($0, .rope) }
            try check(.rope, factors.map { $0.count == pairs } ?? true, "\(factors?.count ?? 0) frequency factors for \(pairs) pairs")
            try launch(k, [xi, thetaScale, r.row, r.startPos, r.nHeads, r.headDim, r.style == .neox ? 1 : 0,
                           factors ?? xi, factors == nil ? 0 : 1],
                       global: [roundUp(pairs, l0), r.nHeads, r.rows], local: [l0, 1, 1])

        case .copyRows(let dst, let dstRow, let src, let srcRow, let rows):
            let (d, s) = (try f32(dst, .copyRows), try f32(src, .copyRows))
            try check(.copyRows, d.cols == s.cols && dstRow >= 0 && srcRow >= 0 && dstRow + rows <= d.rows
                      && srcRow + rows <= s.rows,
                      "rows \(srcRow)..<\(srcRow + rows) of \(s.shape) to \(dstRow) of \(d.shape)")
            try check(.copyRows, d !== s || dstRow + rows <= srcRow || srcRow + rows <= dstRow,
                      "overlapping rows within \(d.label)")
            guard rows > 0 else { return }
            let rowBytes = s.cols * 4
            try withEvent("copy_rows") { event in
                try cl(clEnqueueCopyBuffer(context.queue, s.mem, d.mem, srcRow * rowBytes, dstRow * rowBytes,
                                           rows * rowBytes, 0, nil, event), "copy_rows \(s.label) -> \(d.label)")
            }

        case .attention(let a):
            try attention(a)

        case .batchAttention(let list):
            for a in list { try attention(a) }

        case .swiglu(let out, let gate, let up, let rows):
            let (o, g, u) = (try f32(out, .swiglu), try f32(gate, .swiglu), try f32(up, .swiglu))
            try checkRows(.swiglu, rows, o, g, u)
            try elementwise(kernels.swiglu, [o, g, u], count: rows * o.cols)

        case .gelu(let out, let x, let rows):
            let (o, xi) = (try f32(out, .gelu), try f32(x, .gelu))
            try checkRows(.gelu, rows, o, xi)
            try elementwise(kernels.gelu, [o, xi], count: rows * o.cols)

        case .geglu(let out, let gate, let up, let rows):
            let (o, g, u) = (try f32(out, .geglu), try f32(gate, .geglu), try f32(up, .geglu))
            try checkRows(.geglu, rows, o, g, u)
            try elementwise(kernels.geglu, [o, g, u], count: rows * o.cols)

        case .scale(let x, let factor, let rows):
            let xi = try f32(x, .scale)
            try check(.scale, rows <= xi.rows, "\(rows) rows of \(xi.shape)")
            try elementwise(kernels.scale, [xi, factor], count: rows * xi.cols)

        case .add(let out, let a, let b, let rows):
            let (o, ai, bi) = (try f32(out, .add), try f32(a, .add), try f32(b, .add))
            try checkRows(.add, rows, o, ai, bi)
            try elementwise(kernels.add, [o, ai, bi], count: rows * o.cols)

        case .addBias(let x, let bias, let rows):
            let (xi, b) = (try f32(x, .addBias), try f32(bias, .addBias))
            try check(.addBias, rows <= xi.rows && b.count == xi.cols, "bias \(b.shape) on \(xi.shape)")
            try elementwise(kernels.addBias, [xi, b, xi.cols], count: rows * xi.cols)
        }
    }

    /// One product: tiled matrix-matrix for prefill, a work-group per output for decode.
    private func matmul(_ out: any DeviceTensor, _ x: any DeviceTensor, _ w: any DeviceTensor, rows: Int) throws {
        let (o, xi, wt) = (try f32(out, .matmul), try f32(x, .matmul), try buffer(w, .matmul))
        try check(.matmul, rows <= o.rows && rows <= xi.rows, "\(rows) rows of \(xi.shape) into \(o.shape)")
        try check(.matmul, xi.cols == wt.cols && o.cols == wt.rows, "x \(xi.shape) · w \(wt.shape)ᵀ -> \(o.shape)")
        guard rows > 0 else { return }
        let (K, N) = (wt.cols, wt.rows)
        if rows > 1, let (ts, wpt) = tiling, let k = kernels.matmulMM[wt.format] {
            // Prefill: (TS*WPT)² output tiles.
            let tile = ts * wpt
            try launch(k, [o, xi, wt, rows, K, N],
                       global: [(N + tile - 1) / tile * ts, (rows + tile - 1) / tile * ts], local: [ts, ts])
        } else if let k = kernels.matmulMV[wt.format] {
            // Decode: a work-group per output (2x the SIMD width, at least 64 work-items, reduce in local memory).
            let ls = k.reductionSize(cap: max(64, 2 * k.preferredMultiple))
            try launch(k, [o, xi, wt, K, N, CLLocal(floats: ls)], global: [ls * N, rows], local: [ls, 1])
        } else {
            throw BackendError.unsupported(op: .matmul, format: wt.format, backend: name)
        }
    }

    /// Attention of rows row..<row+rows. The kernels start at row 0: other rows go through device scratch (a
    /// device-side copy of the few rows of one sequence in a multi-sequence batch).
    private func attention(_ a: Op.Attention) throws {
        let (o, qi) = (try f32(a.out, .attention), try f32(a.q, .attention))
        let (kc, vc) = (try f32(a.kCache, .attention), try f32(a.vCache, .attention))
        try check(.attention, a.nKVHeads > 0 && a.nHeads % a.nKVHeads == 0 && qi.cols == a.nHeads * a.headDim
                  && o.cols == qi.cols && a.row >= 0 && a.row + a.rows <= qi.rows && a.row + a.rows <= o.rows
                  && kc.cols == a.nKVHeads * a.headDim && vc.cols == kc.cols && a.startPos >= 0
                  && kc.rows >= a.cacheRowsNeeded && vc.rows == kc.rows,
                  "q \(qi.shape), cache \(kc.shape), rows \(a.row)..<\(a.row + a.rows) at \(a.startPos), "
                    + "\(a.nHeads)/\(a.nKVHeads) heads")
        guard a.rows > 0 else { return }
        var (qRows, outRows) = (qi, o)
        if a.row > 0 {
            qRows = try rowScratch(&queryScratch, rows: a.rows, cols: qi.cols, "attention queries")
            outRows = try rowScratch(&outputScratch, rows: a.rows, cols: qi.cols, "attention outputs")
            try run(.copyRows(dst: qRows, dstRow: 0, src: qi, srcRow: a.row, rows: a.rows))
        }
        switch a.kind {
        case .fused:
            try attentionFused(outRows, qRows, kc, vc, T: a.rows, startPos: a.startPos, nh: a.nHeads, nkv: a.nKVHeads,
                               hd: a.headDim, scale: a.scale, window: a.window, ring: kc.rows)
        case .naive:
            try attentionNaive(outRows, qRows, kc, vc, T: a.rows, startPos: a.startPos, nh: a.nHeads,
                               nkv: a.nKVHeads, hd: a.headDim, scale: a.scale, window: a.window, ring: kc.rows)
            if let target = a.probabilities, let scores = scoreScratch {
                let p = try f32(target, .attention)
                let bytes = a.nHeads * a.rows * a.keys * 4
                try check(.attention, p.bytes >= bytes, "probabilities \(p.shape) for \(bytes / 4) values")
                try withEvent("copy_probabilities") { event in
                    try cl(clEnqueueCopyBuffer(context.queue, scores.mem, p.mem, 0, 0, bytes, 0, nil, event),
                           "copy attention probabilities")
                }
            }
        }
        if a.row > 0 {
            try run(.copyRows(dst: o, dstRow: a.row, src: outRows, srcRow: 0, rows: a.rows))
        }
    }

    // MARK: - Attention

    /// Flash attention; see Kernels/attention.cl for the work decomposition. Position j of the caches is at row
    /// j % ring (their rows: the identity for a full cache, a sliding-window layer's ring otherwise).
    private func attentionFused(_ o: CLBuffer, _ q: CLBuffer, _ kc: CLBuffer, _ vc: CLBuffer, T: Int, startPos: Int,
                                nh: Int, nkv: Int, hd: Int, scale: Float, window: Int, ring: Int) throws {
        let k = kernels.attentionFused
        let wg = k.reductionSize(cap: max(128, 4 * k.preferredMultiple))
        let G = nh / nkv
        let (bq, bk) = try attentionBlocks(T: T, G: G, hd: hd, kernel: k)
        let R = bq * G
        let queryBlocks = (T + bq - 1) / bq
        let groups = nkv * queryBlocks
        // Flash-decoding: too few work-groups to fill the device → split the keys into chunks (whole key blocks,
        // at least 64 keys each) and merge the partial softmaxes.
        // keys a work-group reads at most: all before its queries, or with a window the window plus the queries
        let nk = window > 0 ? min(startPos + T, window + T) : startPos + T
        let target = max(16, 4 * context.device.computeUnits)
        var nsplit = groups >= target ? 1 : min((target + groups - 1) / groups, (nk + 63) / 64)
        var chunk = nk
        if nsplit > 1 {
            chunk = roundUp((nk + nsplit - 1) / nsplit, bk)
            nsplit = (nk + chunk - 1) / chunk
        }
        let part = nsplit > 1 ? try scratch(&partialScratch, floats: nsplit * T * nh * (hd + 2), "attention partials")
                              : o  // unused by the kernel when nsplit == 1, but an argument must be a buffer
        let args: [any CLArg] = [
            o, q, kc, vc, part, T, startPos, nh, nkv, hd, scale, max(0, window), ring, bq, bk, chunk, nsplit,
            CLLocal(floats: R * hd), CLLocal(floats: R * hd), CLLocal(floats: bk * (hd + 1)),
            CLLocal(floats: R * bk), CLLocal(floats: 3 * R),
        ]
        try launch(k, args, global: [wg, groups, nsplit], local: [wg, 1, 1])
        if nsplit > 1 {
            let m = kernels.attentionMerge
            let l0 = m.reductionSize(cap: min(64, hd))
            try launch(m, [o, part, T, nh, hd, nsplit], global: [roundUp(hd, l0), nh, T], local: [l0, 1, 1])
        }
    }

    /// Queries per work-group (bq) and keys per block (bk) whose local arrays fit the device: about 32 query rows
    /// (bq * G) for prefill, one query for decode, 32-key blocks, halved until they fit.
    private func attentionBlocks(T: Int, G: Int, hd: Int, kernel: CLKernel) throws -> (Int, Int) {
        let budget = Int(context.device.localMemoryBytes) - Int(kernel.staticLocalBytes) - 64
        var bq = T == 1 ? 1 : min(T, max(1, 32 / G))
        while true {
            let R = bq * G
            var bk = 32
            while bk >= 1 {
                let floats = 2 * R * hd + bk * (hd + 1) + R * bk + 3 * R
                if floats * 4 <= budget { return (bq, bk) }
                bk /= 2
            }
            if bq == 1 { break }
            bq /= 2
        }
        throw BackendError.device(
            "opencl: attention with \(G) query heads per KV head of dimension \(hd) needs more local memory than "
                + "\(context.device.name) has (\(context.device.localMemoryBytes) bytes)")
    }

    /// Scores (nh, T, nk) into device scratch, row softmax, weighted sum of values.
    private func attentionNaive(_ o: CLBuffer, _ q: CLBuffer, _ kc: CLBuffer, _ vc: CLBuffer, T: Int, startPos: Int,
                                nh: Int, nkv: Int, hd: Int, scale: Float, window: Int, ring: Int) throws {
        let nk = startPos + T
        let scores = try scratch(&scoreScratch, floats: nh * T * nk, "attention scores")
        let s = kernels.attentionScores
        let l0 = s.reductionSize(cap: 64)
        try launch(s, [scores, q, kc, T, startPos, nh, nkv, hd, scale, max(0, window), ring],
                   global: [roundUp(nk, l0), T, nh],
                   local: [l0, 1, 1])
        let sm = kernels.attentionSoftmax
        let ls = sm.reductionSize(cap: 256)
        try launch(sm, [scores, nk, CLLocal(floats: ls)], global: [ls * nh * T], local: [ls])
        let v = kernels.attentionValues
        let lv = v.reductionSize(cap: min(64, hd))
        try launch(v, [o, scores, vc, T, startPos, nh, nkv, hd, ring], global: [roundUp(hd, lv), T, nh],
                   local: [lv, 1, 1])
    }

    // MARK: - Helpers

    private func elementwise(_ k: CLKernel, _ args: [any CLArg], count: Int) throws {
        guard count > 0 else { return }
        let ls = k.reductionSize(cap: 256)
        try launch(k, args + [count], global: [roundUp(count, ls)], local: [ls])
    }

    /// Sets the arguments in order and enqueues; never waits.
    private func launch(_ k: CLKernel, _ args: [any CLArg], global: [Int], local: [Int]) throws {
        for (i, arg) in args.enumerated() { try arg.set(on: k, index: i) }
        var g = global
        var l = local
        try withEvent(k.name) { event in
            try cl(clEnqueueNDRangeKernel(context.queue, k.kernel, cl_uint(g.count), nil, &g, &l, 0, nil, event),
                   "\(k.name) global \(global) local \(local)")
        }
    }

    /// Runs `enqueue` with an event pointer when profiling (the event is kept until the next wait), else nil.
    private func withEvent(_ name: String, _ enqueue: (UnsafeMutablePointer<cl_event?>?) throws -> Void) throws {
        guard profiling else { return try enqueue(nil) }
        var event: cl_event?
        try enqueue(&event)
        if let event { pendingEvents.append((name, event)) }
    }

    private func collectTimings() throws {
        guard !pendingEvents.isEmpty else { return }
        defer {
            for (_, event) in pendingEvents { clReleaseEvent(event) }
            pendingEvents.removeAll()
        }
        for (name, event) in pendingEvents {
            var start: cl_ulong = 0
            var end: cl_ulong = 0
            try cl(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil),
                   "profiling start of \(name)")
            try cl(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil),
                   "profiling end of \(name)")
            kernelTimings.append(CLKernelTiming(name: name, startNs: start, endNs: end))
        }
    }

    /// A scratch buffer of at least `floats` floats, replaced (never shrunk) when too small. Releasing the old
    /// one is safe while kernels still use it: OpenCL frees it after they finish.
    private func scratch(_ slot: inout CLBuffer?, floats: Int, _ label: String) throws -> CLBuffer {
        if let s = slot, s.count >= floats { return s }
        let s = try CLBuffer(context: context, shape: [floats], format: .f32, label: label)
        slot = s
        return s
    }

    /// A (rows, cols) scratch buffer, replaced when too small or of another width.
    private func rowScratch(_ slot: inout CLBuffer?, rows: Int, cols: Int, _ label: String) throws -> CLBuffer {
        if let s = slot, s.cols == cols, s.rows >= rows { return s }
        let s = try CLBuffer(context: context, shape: [rows, cols], format: .f32, label: label)
        slot = s
        return s
    }

    func buffer(_ t: any DeviceTensor, _ op: OpKind) throws -> CLBuffer {
        guard let b = t as? CLBuffer, b.context === context else {
            throw BackendError.device("opencl: \(op): tensor \(t.label) belongs to another backend")
        }
        return b
    }

    func f32(_ t: any DeviceTensor, _ op: OpKind) throws -> CLBuffer {
        let b = try buffer(t, op)
        guard b.format == .f32 else { throw BackendError.unsupported(op: op, format: b.format, backend: name) }
        return b
    }

    func check(_ op: OpKind, _ condition: Bool, _ detail: @autoclosure () -> String) throws {
        if !condition { throw BackendError.shapeMismatch(op: op, detail()) }
    }

    func checkRows(_ op: OpKind, _ rows: Int, _ tensors: CLBuffer...) throws {
        let cols = tensors[0].cols
        for t in tensors where t.cols != cols || rows > t.rows {
            throw BackendError.shapeMismatch(op: op, "\(rows) rows of \(t.label) \(t.shape), expected width \(cols)")
        }
    }
}

private func roundUp(_ n: Int, _ multiple: Int) -> Int { (n + multiple - 1) / multiple * multiple }

// MARK: - Kernel arguments

/// A value `launch` can pass as a kernel argument.
protocol CLArg {
    func set(on kernel: CLKernel, index: Int) throws
}

extension CLBuffer: CLArg {
    func set(on kernel: CLKernel, index: Int) throws { try kernel.set(index, self) }
}

extension Int: CLArg {
    func set(on kernel: CLKernel, index: Int) throws { try kernel.set(index, self) }
}

extension Float: CLArg {
    func set(on kernel: CLKernel, index: Int) throws { try kernel.set(index, self) }
}

/// A `local float *` argument of `floats` elements.
struct CLLocal: CLArg {
    var floats: Int
    func set(on kernel: CLKernel, index: Int) throws { try kernel.setLocal(index, floats: floats) }
}

// MARK: - Programs

/// Every kernel the backend enqueues, built from the embedded sources (common.cl prepended to each file).
private struct Kernels {
    /// The weight formats matmul.cl and embedding.cl have kernels for (kernel_matmul_mv_<format>, ...): all.
    static let formats: [WeightFormat] = WeightFormat.allCases

    let embedding: [WeightFormat: CLKernel]
    let matmulMV: [WeightFormat: CLKernel]
    let matmulMM: [WeightFormat: CLKernel]
    let rmsNorm, layerNorm, rope: CLKernel
    let add, addBias, swiglu, gelu, geglu, scale: CLKernel
    let attentionFused, attentionMerge, attentionScores, attentionSoftmax, attentionValues: CLKernel

    init(context: CLContext, cache: CLProgramCache, ts: Int, wpt: Int) throws {
        let common = String(decoding: PackageResources.common_cl, as: UTF8.self)
        func build(_ name: String, _ source: [UInt8], options: String = "") throws -> CLProgram {
            // -cl-std=CL1.2: the OpenCL C this code is written in; no fast-math, results must match the C refs.
            try cache.program(name, source: common + "\n" + String(decoding: source, as: UTF8.self),
                              options: "-cl-std=CL1.2 " + options, context: context)
        }
        let formats = Kernels.formats
        let emb = try build("embedding", PackageResources.embedding_cl)
        embedding = try Dictionary(uniqueKeysWithValues: formats.map { ($0, try emb.kernel("kernel_embedding_\($0)")) })
        let mm = try build("matmul", PackageResources.matmul_cl, options: "-DTS=\(ts) -DWPT=\(wpt)")
        matmulMV = try Dictionary(uniqueKeysWithValues: formats.map { ($0, try mm.kernel("kernel_matmul_mv_\($0)")) })
        matmulMM = try Dictionary(uniqueKeysWithValues: formats.map { ($0, try mm.kernel("kernel_matmul_mm_\($0)")) })
        let norm = try build("norm", PackageResources.norm_cl)
        rmsNorm = try norm.kernel("kernel_rms_norm_f32")
        layerNorm = try norm.kernel("kernel_layer_norm_f32")
        rope = try build("rope", PackageResources.rope_cl).kernel("kernel_rope_f32")
        let ew = try build("elementwise", PackageResources.elementwise_cl)
        add = try ew.kernel("kernel_add_f32")
        addBias = try ew.kernel("kernel_add_bias_f32")
        swiglu = try ew.kernel("kernel_swiglu_f32")
        gelu = try ew.kernel("kernel_gelu_f32")
        geglu = try ew.kernel("kernel_geglu_f32")
        scale = try ew.kernel("kernel_scale_f32")
        let att = try build("attention", PackageResources.attention_cl)
        attentionFused = try att.kernel("kernel_attention_fused_f32")
        attentionMerge = try att.kernel("kernel_attention_merge_f32")
        attentionScores = try att.kernel("kernel_attention_scores_f32")
        attentionSoftmax = try att.kernel("kernel_attention_softmax_f32")
        attentionValues = try att.kernel("kernel_attention_values_f32")
    }
}
