"""Generated gRPC API of Ballast; sources in ``proto/ballast/v1/*.proto``."""
