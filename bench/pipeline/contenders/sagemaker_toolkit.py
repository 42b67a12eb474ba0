"""Starts the SageMaker PyTorch inference toolkit as its container's `serve` does
(`serving.main()`: TorchServe with the toolkit's handler service), with one change: the toolkit
writes its TorchServe settings to /etc/sagemaker-ts.properties, which is moved into the working
directory, where TorchServe also keeps its model store and logs.

Environment, as in a SageMaker container: SAGEMAKER_BASE_DIR (the model and its code/ are in
$SAGEMAKER_BASE_DIR/model), SAGEMAKER_BIND_TO_PORT, and SAGEMAKER_MODEL_SERVER_WORKERS for a
tuned run.
"""

import os

from sagemaker_pytorch_serving_container import serving, torchserve

torchserve.TS_CONFIG_FILE = os.path.join(os.getcwd(), "sagemaker-ts.properties")
serving.main()
