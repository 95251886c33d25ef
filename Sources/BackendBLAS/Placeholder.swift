// BackendBLAS module (being written)
