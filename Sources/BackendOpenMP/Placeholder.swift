// BackendOpenMP module (being written)
