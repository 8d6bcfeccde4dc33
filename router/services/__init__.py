"""gRPC servicers: proto -> convert -> domain/store call -> convert -> proto.

They never call ``context.abort``: they raise typed errors and the error
interceptor maps them through the one table in :mod:`router.errors`.
"""
