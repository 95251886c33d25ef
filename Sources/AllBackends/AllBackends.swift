// AllBackends: the one list of compiled-in backends, shared by the `gpt` tool and the tests.
@_exported import BackendBLAS
@_exported import BackendOpenCL
@_exported import BackendOpenMP
@_exported import GPTCore

extension BackendRegistry {
    /// Every backend SwiftGPT ships, in the order `gpt backends` lists them.
    public static let standard = BackendRegistry([.openmp, .blas, .opencl])
}
