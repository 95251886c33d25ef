// OpCheck module (being written)
