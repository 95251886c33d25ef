// SwiftGPT: the umbrella module. `import SwiftGPT` brings the whole public API.
@_exported import AllBackends
@_exported import GGUF
@_exported import GPTCore
@_exported import GPTEngine
@_exported import OpCheck
@_exported import Tokenization
@_exported import Profiling
@_exported import Visualization
@_exported import SafeTensors
@_exported import HFCheckpoint
@_exported import Quantization
