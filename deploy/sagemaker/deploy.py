"""Creates a SageMaker real-time endpoint that serves a Tandem image, with autoscaling on
invocations per instance: the model (image + model.tar.gz holding the repository), the endpoint
config, the endpoint, then the scaling target and its policy once the endpoint is in service.

  python deploy/sagemaker/deploy.py --name remove-background \\
      --image 123456789012.dkr.ecr.us-east-1.amazonaws.com/tandem:0.1.0 \\
      --model-data s3://my-bucket/remove-background/model.tar.gz \\
      --role arn:aws:iam::123456789012:role/SageMakerExecution \\
      --instance-type ml.g5.12xlarge --instance-count 1 --max-instance-count 4 \\
      --invocations-per-instance 600 --env TANDEM_DEFAULT_MODEL=remove_background

model.tar.gz holds the repository's folders at its root (segmenter/, matting/,
remove_background/, ...); SageMaker unpacks it into /opt/ml/model, where `serve` looks.
--env sets the container's environment (deploy/entrypoint.sh maps TANDEM_* to flags).
AWS credentials and region come from the usual boto3 sources (or --region).
"""

from __future__ import annotations

import argparse
import sys

VARIANT = "AllTraffic"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="model, endpoint config and endpoint name")
    parser.add_argument("--image", required=True, help="the Tandem image's URI in ECR")
    parser.add_argument("--model-data", required=True, help="s3:// URI of model.tar.gz")
    parser.add_argument("--role", required=True, help="SageMaker execution role ARN")
    parser.add_argument("--instance-type", default="ml.g5.12xlarge")
    parser.add_argument("--instance-count", type=int, default=1, help="initial and minimum")
    parser.add_argument("--max-instance-count", type=int, default=4)
    parser.add_argument("--invocations-per-instance", type=float, default=600,
                        help="target invocations per instance a minute for autoscaling")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="container environment, repeatable")
    parser.add_argument("--region", default=None)
    parser.add_argument("--no-wait", action="store_true",
                        help="create the endpoint and return; skip autoscaling (it needs the "
                             "endpoint in service)")
    args = parser.parse_args(argv)
    if not args.model_data.startswith("s3://"):
        parser.error(f"--model-data must be an s3:// URI, got {args.model_data!r}")
    if not 1 <= args.instance_count <= args.max_instance_count:
        parser.error("need 1 <= --instance-count <= --max-instance-count, got "
                     f"{args.instance_count} and {args.max_instance_count}")
    if args.invocations_per_instance <= 0:
        parser.error("--invocations-per-instance must be positive")
    environment = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--env takes KEY=VALUE, got {item!r}")
        environment[key] = value
    args.environment = environment
    return args


def deploy(args: argparse.Namespace, sagemaker, autoscaling) -> None:
    """Issues the requests with the given boto3 clients (`sagemaker`, `application-autoscaling`)."""
    sagemaker.create_model(
        ModelName=args.name,
        ExecutionRoleArn=args.role,
        PrimaryContainer={"Image": args.image, "ModelDataUrl": args.model_data,
                          "Environment": args.environment})
    sagemaker.create_endpoint_config(
        EndpointConfigName=args.name,
        ProductionVariants=[{
            "VariantName": VARIANT,
            "ModelName": args.name,
            "InstanceType": args.instance_type,
            "InitialInstanceCount": args.instance_count,
            # Loading and warming up every model on every GPU can take minutes.
            "ContainerStartupHealthCheckTimeoutInSeconds": 600,
        }])
    sagemaker.create_endpoint(EndpointName=args.name, EndpointConfigName=args.name)
    if args.no_wait:
        return
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=args.name)

    resource = f"endpoint/{args.name}/variant/{VARIANT}"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension,
        MinCapacity=args.instance_count, MaxCapacity=args.max_instance_count)
    autoscaling.put_scaling_policy(
        PolicyName=f"{args.name}-invocations-per-instance",
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=dimension,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": args.invocations_per_instance,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 300,
        })


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region)
    deploy(args, session.client("sagemaker"), session.client("application-autoscaling"))
    print(f"endpoint {args.name}: created" + ("" if args.no_wait else ", in service, autoscaling "
          f"{args.instance_count}..{args.max_instance_count} instances"))


if __name__ == "__main__":
    main(sys.argv[1:])
