// GGUF module (being written)
