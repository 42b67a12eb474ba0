# The v2 gRPC service (KServe's and Triton's inference.GRPCInferenceService), generated at build
# time from the descriptors the pinned tritonclient wheel ships (scripts/grpc_descriptors.py),
# so the definition is never retyped here. Needs find_package(gRPC), which brings Protobuf.
set(TANDEM_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python with the requirements.txt packages (scripts/setup.sh)")

# tandem_grpc_service(TARGET): a static library TARGET of the generated messages and service
# stubs, its headers (grpc_service.pb.h, grpc_service.grpc.pb.h, model_config.pb.h) public.
function(tandem_grpc_service target)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/generated)
  set(files)
  foreach(stem model_config.pb model_config.grpc.pb grpc_service.pb grpc_service.grpc.pb)
    list(APPEND files ${out}/${stem}.cc ${out}/${stem}.h)
  endforeach()
  add_custom_command(
    OUTPUT ${files}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
    COMMAND ${TANDEM_PYTHON} ${PROJECT_SOURCE_DIR}/scripts/grpc_descriptors.py ${out}/triton.desc
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} --descriptor_set_in=${out}/triton.desc
            --cpp_out=${out} --grpc_out=${out}
            --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
            model_config.proto grpc_service.proto
    DEPENDS ${PROJECT_SOURCE_DIR}/scripts/grpc_descriptors.py
    COMMENT "Generating the v2 gRPC service from tritonclient's descriptors"
    VERBATIM)
  add_library(${target} STATIC ${files})
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  # Torch's CMake config defines protobuf::libprotobuf its own way (with no location for every
  # build type): link the library FindProtobuf found, by its path.
  target_link_libraries(${target} PUBLIC gRPC::grpc++ ${Protobuf_LIBRARY_RELEASE})
endfunction()
