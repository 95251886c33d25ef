// SwiftGPT module (being written)
