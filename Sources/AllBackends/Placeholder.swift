// AllBackends module (being written)
