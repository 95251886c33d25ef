// GPTEngine module (being written)
