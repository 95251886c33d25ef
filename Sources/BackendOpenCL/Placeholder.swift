// BackendOpenCL module (being written)
