// The "opencl" registry entry. Probing enumerates platforms only (no context, no compile), so `gpt backends`
// stays fast; making the backend builds or loads the programs.
import GPTCore

extension BackendEntry {
    public static let opencl = BackendEntry(
        name: "opencl",
        summary: "OpenCL kernels on a GPU (or PoCL's CPU device): quantized weights, activations and KV cache "
            + "resident on the device, flash attention",
        // A GPU ranks 30, above openmp (20): `auto` picks it. PoCL's CPU device ranks 5, below openmp and blas,
        // because the C kernels are faster on the same cores.
        priority: 5,
        probe: { options in OpenCLBackend.probe(options) },
        make: { options in try OpenCLBackend(options: options) },
        score: { info in info.details.contains { $0.key == "type" && $0.value == "GPU" } ? 30 : 5 },
        mayOutrankPriority: { OpenCLBackend.gpuDeviceNodesPresent() })
}
