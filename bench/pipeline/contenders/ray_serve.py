"""The Ray Serve contender: remove_background as a segmenter deployment (batched with
@serve.batch) and a matting deployment composed with .bind() under an ingress that decodes,
preprocesses, makes the trimap and encodes the PNG (steps.py); and the identity model for the
overhead scenario. Every replica runs with num_cpus=0 so that the five fit on a small machine;
the model replicas use `threads` LibTorch intra-op threads.

Usage: python ray_serve.py MODEL_DIR PORT THREADS
  MODEL_DIR holds segmenter.pt, matting.pt and identity.pt. Serves POST /remove_background
  (JPEG in, PNG out) and POST /identity (a JSON list in and out) until SIGTERM.
"""

import os
import pathlib
import signal
import sys

import ray
import torch
from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import steps

REPLICA = {"ray_actor_options": {"num_cpus": 0}}


@serve.deployment(**REPLICA)
class Segmenter:
    def __init__(self, path: str, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model = torch.jit.load(path)

    @serve.batch(max_batch_size=4, batch_wait_timeout_s=0.002)
    async def __call__(self, images: list[torch.Tensor]) -> list[torch.Tensor]:
        with torch.inference_mode():
            return list(self.model(torch.cat(images))[0].split(1))


@serve.deployment(**REPLICA)
class Matting:
    def __init__(self, path: str, threads: int) -> None:
        torch.set_num_threads(threads)
        self.model = torch.jit.load(path)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(x)


@serve.deployment(**REPLICA)
class RemoveBackground:
    def __init__(self, segmenter, matting) -> None:
        torch.set_num_threads(1)
        self.segmenter, self.matting = segmenter, matting

    async def __call__(self, request: Request) -> Response:
        image = steps.decode(await request.body())
        logits = await self.segmenter.remote(steps.preprocess([image]))
        alpha = await self.matting.remote(steps.matting_inputs(logits, [image])[0])
        return Response(steps.encode_png(alpha), media_type="image/png")


@serve.deployment(**REPLICA)
class Identity:
    def __init__(self, path: str) -> None:
        torch.set_num_threads(1)
        self.model = torch.jit.load(path)

    async def __call__(self, request: Request) -> JSONResponse:
        values = await request.json()
        with torch.inference_mode():
            return JSONResponse(self.model(torch.tensor(values, dtype=torch.float32)).tolist())


def main() -> None:
    model_dir, port, threads = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    pipeline = RemoveBackground.bind(Segmenter.bind(str(model_dir / "segmenter.pt"), threads),
                                     Matting.bind(str(model_dir / "matting.pt"), threads))
    serve.run(pipeline, name="remove_background", route_prefix="/remove_background")
    serve.run(Identity.bind(str(model_dir / "identity.pt")), name="identity",
              route_prefix="/identity")
    print("ray serve ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
