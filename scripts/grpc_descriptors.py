"""Writes the KServe v2 / Triton gRPC service definition as a FileDescriptorSet, for `protoc
--descriptor_set_in` at build time. The definition comes from the tritonclient wheel (its
generated grpc_service and model_config modules), not retyped here, so the server speaks exactly
what the stock clients do.

Usage: python scripts/grpc_descriptors.py OUT.desc"""

import sys

from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2


def main(out: str) -> None:
    files = descriptor_pb2.FileDescriptorSet()
    seen = set()

    def add(descriptor) -> None:  # dependencies first, as protoc reads them
        if descriptor.name in seen:
            return
        seen.add(descriptor.name)
        for dependency in descriptor.dependencies:
            add(dependency)
        descriptor.CopyToProto(files.file.add())

    add(service_pb2.DESCRIPTOR)
    with open(out, "wb") as f:
        f.write(files.SerializeToString())


if __name__ == "__main__":
    main(sys.argv[1])
