# Tandem's container image. `docker run <image> serve` serves /opt/ml/model on port 8080 (or
# SAGEMAKER_BIND_TO_PORT), as SageMaker runs it; KServe runs the same image with
# TANDEM_MODEL_REPOSITORY=/mnt/models (deploy/kserve/). deploy/entrypoint.sh maps TANDEM_*
# variables to flags. Build: docker build -t tandem:0.1.0 .
#
# The build stage runs the same scripts as CI (scripts/setup.sh, make build), so what they do is
# tested on every CI run even where no container engine exists; scripts/bundle.sh then gathers
# the binary and the libraries it loads for the runtime stage.
ARG CUDA_IMAGE_VERSION=13.0.2
ARG UBUNTU_VERSION=24.04

FROM nvidia/cuda:${CUDA_IMAGE_VERSION}-devel-ubuntu${UBUNTU_VERSION} AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates git make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make build SETUP_FLAGS=--build-only && scripts/bundle.sh build /opt/tandem

FROM nvidia/cuda:${CUDA_IMAGE_VERSION}-runtime-ubuntu${UBUNTU_VERSION}
COPY --from=build /opt/tandem /opt/tandem
COPY deploy/entrypoint.sh /opt/tandem/bin/entrypoint.sh
ENV PATH=/opt/tandem/bin:${PATH} LD_LIBRARY_PATH=/opt/tandem/lib
# Not root: the server needs nothing but its port and a readable /opt/ml/model.
RUN useradd --system --uid 10001 --no-create-home tandem
USER tandem
EXPOSE 8080 8001
ENTRYPOINT ["/opt/tandem/bin/entrypoint.sh"]
CMD ["serve"]
