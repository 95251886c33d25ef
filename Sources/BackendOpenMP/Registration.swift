// The "openmp" registry entry: always available on a CPU.
import CKernels
import GPTCore

extension BackendEntry {
    public static let openmp = BackendEntry(
        name: "openmp",
        summary: "SwiftGPT's C kernels: OpenMP threads, AVX-512/AVX2/scalar picked at run time, quantized weights",
        priority: 20,
        probe: { options in
            .available(OpenMPBackend(options: options).device)
        },
        make: { options in OpenMPBackend(options: options) })
}
