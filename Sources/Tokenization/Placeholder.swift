// Tokenization module (being written)
