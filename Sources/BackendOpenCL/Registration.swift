// The "opencl" registry entry. Probing enumerates platforms only (no context, no compile), so `gpt backends`
// stays fast; making the backend builds or loads the programs.
import GPTCore

extension BackendEntry {
    public static let opencl = BackendEntry(
        name: "opencl",
        summary: "OpenCL kernels on a GPU (or PoCL's CPU device): quantized weights, activations and KV cache "
            + "resident on the device, flash attention",
        // 5, below openmp (20) and blas (10): `priority` is a constant of the entry, and PoCL's CPU device is
        // slower than the C kernels. With a GPU this would deserve 30 (above openmp); pick it with --backend opencl.
        priority: 5,
        probe: { options in OpenCLBackend.probe(options) },
        make: { options in try OpenCLBackend(options: options) })
}
