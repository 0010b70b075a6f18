"""The local platform: per environment a model-server + feature-transformer pair, and the gateway."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.process import ManagedProcess, free_ports

ENVIRONMENTS = ("staging", "production")


@dataclass
class PairPorts:
    transformer: int
    predictor: int


@dataclass
class StackConfig:
    """What to serve where. Ports of 0 are replaced by free ones (tests); `make run` fixes them."""

    model_dirs: dict[str, list[Path]]  # per environment: every model its pair serves
    host: str = "127.0.0.1"
    gateway_port: int = 8080
    pair_ports: dict[str, PairPorts] = field(
        default_factory=lambda: {"staging": PairPorts(8101, 8102), "production": PairPorts(8201, 8202)}
    )
    log_dir: Path = Path("var/log")
    inference_log_url: str = "var/inference-log"  # where both transformers record predictions
    feedback_log_url: str = "var/feedback-log"  # where the gateway records true labels
    inference_log: bool = True
    echo: bool = True
    gateway_env: dict[str, str] = field(default_factory=dict)
    predictor_args: dict[str, list[str]] = field(default_factory=dict)  # extra model-server flags per environment
    transformer_args: dict[str, list[str]] = field(default_factory=dict)  # extra transformer flags per environment
    component_env: dict[str, str] = field(default_factory=dict)  # extra environment of every KServe component

    @classmethod
    def on_free_ports(cls, model_dirs: dict[str, list[Path]], **kwargs: object) -> StackConfig:
        gateway, *pairs = free_ports(1 + 2 * len(ENVIRONMENTS))
        ports = {env: PairPorts(pairs[2 * i], pairs[2 * i + 1]) for i, env in enumerate(ENVIRONMENTS)}
        return cls(model_dirs=model_dirs, gateway_port=gateway, pair_ports=ports, **kwargs)


def gateway_process(
    name: str,
    port: int,
    staging_url: str,
    production_url: str,
    *,
    log_dir: Path,
    echo: bool = False,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> ManagedProcess:
    """A gateway process in front of the given environments' transformers (``GATEWAY_*`` in ``env``)."""
    return ManagedProcess(
        name,
        [sys.executable, "-m", "api_gateway"],
        env={
            "GATEWAY_HOST": host,
            "GATEWAY_PORT": str(port),
            "GATEWAY_STAGING_URL": staging_url,
            "GATEWAY_PRODUCTION_URL": production_url,
            **(env or {}),
        },
        log_dir=log_dir,
        echo=echo,
        ready_url=f"http://{host}:{port}/health",
    )


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, ManagedProcess] = {}
        py = sys.executable
        host = config.host
        for env in ENVIRONMENTS:
            ports = config.pair_ports[env]
            kserve_common = ["--http_host", host, "--enable_grpc", "false"]
            for model_dir in config.model_dirs[env]:
                kserve_common += ["--model_dir", str(model_dir)]
            self.processes[f"{env}-predictor"] = ManagedProcess(
                f"{env}-predictor",
                [
                    py,
                    "-m",
                    "model_server",
                    "--http_port",
                    str(ports.predictor),
                    *kserve_common,
                    *config.predictor_args.get(env, []),
                ],
                env=config.component_env,
                log_dir=config.log_dir,
                echo=config.echo,
                ready_url=f"http://{host}:{ports.predictor}/v2/health/ready",
            )
            self.processes[f"{env}-transformer"] = ManagedProcess(
                f"{env}-transformer",
                [
                    py,
                    "-m",
                    "feature_transformer",
                    "--http_port",
                    str(ports.transformer),
                    *kserve_common,
                    "--predictor_host",
                    f"{host}:{ports.predictor}",
                    "--predictor_protocol",
                    "v2",
                    "--enable_predictor_health_check",
                    "--environment",
                    env,
                    "--inference_log",
                    "on" if config.inference_log else "off",
                    "--inference_log_url",
                    str(config.inference_log_url),
                    *config.transformer_args.get(env, []),
                ],
                env=config.component_env,
                log_dir=config.log_dir,
                echo=config.echo,
                ready_url=f"http://{host}:{ports.transformer}/v2/health/live",
            )
        self.processes["gateway"] = gateway_process(
            "gateway",
            config.gateway_port,
            self.transformer_url("staging"),
            self.transformer_url("production"),
            log_dir=config.log_dir,
            echo=config.echo,
            env={**config.component_env, "GATEWAY_FEEDBACK_LOG_URL": config.feedback_log_url, **config.gateway_env},
            host=host,
        )

    @property
    def gateway_url(self) -> str:
        return f"http://{self.config.host}:{self.config.gateway_port}"

    def transformer_url(self, env: str) -> str:
        return f"http://{self.config.host}:{self.config.pair_ports[env].transformer}"

    def predictor_url(self, env: str) -> str:
        return f"http://{self.config.host}:{self.config.pair_ports[env].predictor}"

    def start(self, wait: bool = True, timeout: float = 180.0) -> None:
        """Start every process at once (they load in parallel), then wait for each to be ready."""
        for proc in self.processes.values():
            proc.start()
        if wait:
            try:
                for proc in self.processes.values():
                    proc.wait_ready(timeout)
            except Exception:
                self.stop()
                raise

    def stop(self) -> None:
        # Front to back, so nothing accepted upstream is left without a backend to finish it.
        order = ["gateway", *(f"{e}-transformer" for e in ENVIRONMENTS), *(f"{e}-predictor" for e in ENVIRONMENTS)]
        for name in order:
            self.processes[name].stop()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
