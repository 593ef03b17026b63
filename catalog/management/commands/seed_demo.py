"""``manage.py seed_demo --password PW``: the demo data of SPEC §7.

Idempotent: every row is looked up by its natural key and created only when missing, so a
second run changes nothing (a password is set only where it does not match already).
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from compute.models import ComputeInstance, Connection
from profiles import services
from profiles.models import (
    EnvironmentTemplate,
    ServiceProfile,
    TemplateOutput,
    TemplateVariable,
    TemplateVersion,
)
from studio.models import SYSTEM_CATALOG, Membership, Project

# Each demo template's code, inline: real work on the compute instance, or an early failure
# naming what the instance lacks (jupyter-lab, vllm, docker).
CODE = Path(__file__).resolve().parents[2] / "demo_code"

PROJECTS = {
    "platform": ("Platform", "The platform team's own project: where shared profiles are built."),
    "research": ("Research", "Data scientists training and evaluating models."),
    "finance": ("Finance", "Forecasting and risk models for the finance department."),
}

# username: (superuser, {project: role}, first name)
USERS = {
    "admin": (True, {}, "Ada"),
    "alice": (False, {"platform": "admin"}, "Alice"),
    "dave": (False, {"research": "admin"}, "Dave"),
    "bob": (False, {"research": "member"}, "Bob"),
    "carol": (False, {"finance": "member"}, "Carol"),
}


def var(name, value_type="text", value="", description="", **rules):
    return {
        "name": name,
        "value_type": value_type,
        "value": value,
        "description": description,
    } | rules


NOTEBOOK_VARIABLES = [
    var(
        "notebook_profile",
        value="pytorch",
        description="Libraries pre-installed in the notebook.",
        required=True,
        override="restricted",
        restricted_values=["pytorch", "tensorflow", "rapids"],
    ),
    var("image", value="nvcr.io/nvidia/pytorch:24.10-py3", description="Container image."),
    var("cpu", "number", "4", "CPU cores for the notebook."),
    var("memory_gib", "number", "32", "Memory in GiB."),
    var("gpu_count", "number", "1", "GPUs attached to the notebook.", required=True),
    var("enable_ssh", "boolean", "false", "Also open an SSH endpoint."),
    var("hf_token", description="Hugging Face access token for gated models.", sensitive=True),
]
NOTEBOOK_OUTPUTS = [
    ("url", "Where the notebook is served.", False),
    ("token", "Login token.", True),
]

TEMPLATES = {
    "jupyter-notebook": {
        "display_name": "Jupyter Notebook",
        "description": "A JupyterLab server on a GPU compute instance.",
        "versions": {
            "v1": (NOTEBOOK_VARIABLES, NOTEBOOK_OUTPUTS),
            "v2": (
                [
                    *NOTEBOOK_VARIABLES,
                    var(
                        "idle_timeout_minutes",
                        "number",
                        "120",
                        "Stop the notebook after this many idle minutes.",
                    ),
                ],
                NOTEBOOK_OUTPUTS,
            ),
        },
    },
    "vllm-inference": {
        "display_name": "vLLM Inference",
        "description": "An OpenAI-compatible inference server running vLLM.",
        "versions": {
            "v1": (
                [
                    var(
                        "model",
                        value="meta-llama/Llama-3.1-8B-Instruct",
                        description="Hugging Face model to serve.",
                        required=True,
                    ),
                    var(
                        "gpu_count",
                        "number",
                        "1",
                        "GPUs for tensor parallelism.",
                        required=True,
                        override="restricted",
                        restricted_values=["1", "2", "4", "8"],
                    ),
                    var("max_model_len", "number", "8192", "Longest context in tokens."),
                    var(
                        "engine_args",
                        "json",
                        '{"gpu_memory_utilization": 0.9}',
                        "Extra vLLM engine arguments.",
                    ),
                    var("hf_token", description="Token for gated models.", sensitive=True),
                ],
                [
                    ("endpoint", "OpenAI-compatible base URL.", False),
                    ("api_key", "Key for the endpoint.", True),
                ],
            )
        },
    },
    "batch-job": {
        "display_name": "Batch Job",
        "description": "Run a container to completion on GPUs and collect its logs.",
        "versions": {
            "v1": (
                [
                    var(
                        "image",
                        value="python:3.12-slim",
                        description="Container image to run (when the instance has docker).",
                        required=True,
                    ),
                    var(
                        "command",
                        value=(
                            "python3 -c \"import platform, sys; print('Hello from a batch job "
                            "on', platform.node(), 'with Python', sys.version.split()[0])\""
                        ),
                        description="Command line to run.",
                        required=True,
                    ),
                    var("gpu_count", "number", "1", "GPUs for the job."),
                    var("max_runtime_minutes", "number", "240", "Stop the job after this long."),
                ],
                [
                    ("job_id", "The job's identifier.", False),
                    ("logs_url", "Where the logs are.", False),
                ],
            )
        },
    },
    "bionemo": {
        "display_name": "NVIDIA BioNeMo",
        "description": "NVIDIA BioNeMo framework for biomolecular models, with JupyterLab.",
        "versions": {
            "v1": (
                [
                    var(
                        "model",
                        value="esm2-650m",
                        description="Pre-trained model to load.",
                        required=True,
                        override="restricted",
                        restricted_values=["esm2-650m", "esm2-3b", "geneformer"],
                    ),
                    var("gpu_count", "number", "1", "GPUs attached.", required=True),
                    var(
                        "ngc_api_key", description="NGC key to pull BioNeMo images.", sensitive=True
                    ),
                ],
                [("url", "Where JupyterLab is served.", False), ("token", "Login token.", True)],
            )
        },
    },
}

TEMPLATES["web-file-server"] = {
    "display_name": "Web File Server",
    "description": "Serve a folder over HTTP with Python's built-in server.",
    "versions": {
        "v1": (
            [var("title", value="Hello from PaaS Studio", description="The start page's title.")],
            [("url", "Where the files are served.", False)],
        )
    },
}

PROFILES = {
    "jupyter-notebook": {
        "outputs": {
            "url": {"display_name": "Notebook URL"},
            "token": {"display_name": "Access token"},
        },
        "display_name": "Jupyter Notebook",
        "service_type": "notebook",
        "template": ("jupyter-notebook", "v1"),
        "description": (
            "A JupyterLab notebook on a GPU. Pick the libraries you need and start working in "
            "minutes; your files live on the instance's persistent volume."
        ),
        "inputs": {
            "notebook_profile": {"display_name": "Notebook profile"},
            "gpu_count": {"display_name": "GPUs"},
            "memory_gib": {"display_name": "Memory (GiB)"},
            "cpu": {"display_name": "CPU cores"},
            "enable_ssh": {"display_name": "Enable SSH"},
            "hf_token": {"display_name": "Hugging Face token"},
        },
        "readme": """# Jupyter Notebook

A JupyterLab server with GPU access, ready for interactive work.

## Notebook profiles

| Profile | What is installed |
|---|---|
| pytorch | PyTorch, torchvision, Lightning |
| tensorflow | TensorFlow, Keras |
| rapids | cuDF, cuML, cuGraph |

## Getting started

```python
import torch
print(torch.cuda.get_device_name(0))
```

Open the **Notebook URL** shown after launch and log in with the access token.
""",
    },
    "vllm-inference": {
        "outputs": {
            "endpoint": {"display_name": "API endpoint"},
            "api_key": {"display_name": "API key"},
        },
        "display_name": "vLLM Inference",
        "service_type": "inference",
        "template": ("vllm-inference", "v1"),
        "description": (
            "Serve an open model behind an OpenAI-compatible API with vLLM. Choose the model "
            "and how many GPUs it spans."
        ),
        "inputs": {
            "model": {"display_name": "Model"},
            "gpu_count": {"display_name": "GPUs"},
            "max_model_len": {"display_name": "Max context length"},
            "engine_args": {"display_name": "Engine arguments"},
            "hf_token": {"display_name": "Hugging Face token"},
        },
        "readme": """# vLLM Inference

Serves a model with [vLLM](https://docs.vllm.ai) behind an OpenAI-compatible API.

```bash
curl "$ENDPOINT/v1/chat/completions" -H "Authorization: Bearer $API_KEY" \\
  -d '{"model": "served", "messages": [{"role": "user", "content": "Hello"}]}'
```
""",
    },
    "batch-job": {
        "outputs": {"job_id": {"display_name": "Job ID"}, "logs_url": {"display_name": "Logs"}},
        "display_name": "Batch Job",
        "service_type": "jobs",
        "template": ("batch-job", "v1"),
        "description": (
            "Run a container to completion on GPUs: training runs, evaluations, data "
            "processing. Logs stay available after the job ends."
        ),
        "inputs": {
            "image": {"display_name": "Container image"},
            "command": {"display_name": "Command"},
            "gpu_count": {"display_name": "GPUs"},
            "max_runtime_minutes": {"display_name": "Time limit (minutes)"},
        },
        "readme": """# Batch Job

Runs your container once, to completion.

1. Give the **container image** and the **command**.
2. Watch the logs at the URL shown after launch.
""",
    },
    "web-file-server": {
        "outputs": {"url": {"display_name": "Site URL"}},
        "display_name": "Web File Server",
        "service_type": "custom",
        "template": ("web-file-server", "v1"),
        "description": (
            "A small web server for a folder of files: share results, reports or a static "
            "site from your compute instance."
        ),
        "inputs": {"title": {"display_name": "Page title"}},
        "readme": """# Web File Server

Serves the service's `site/` folder over HTTP with Python's `http.server`. It starts with an
index page; put your own files in the folder on the instance.
""",
    },
    "bionemo": {
        "outputs": {
            "url": {"display_name": "JupyterLab URL"},
            "token": {"display_name": "Access token"},
        },
        "display_name": "NVIDIA BioNeMo",
        "service_type": "custom",
        "template": ("bionemo", "v1"),
        "description": (
            "NVIDIA BioNeMo for drug discovery: protein language models and generative "
            "chemistry, packaged as a one-click JupyterLab environment."
        ),
        "inputs": {
            "model": {"display_name": "Model"},
            "gpu_count": {"display_name": "GPUs"},
            "ngc_api_key": {"display_name": "NGC API key"},
        },
        "readme": """# NVIDIA BioNeMo

Biomolecular foundation models (ESM-2, Geneformer) with the BioNeMo framework.

- Fine-tune ESM-2 on your own sequences
- Embed single-cell data with Geneformer
""",
    },
}


def system_profiles(
    *, system: Project, actor, versions: dict[tuple[str, str], TemplateVersion]
) -> dict[str, ServiceProfile]:
    """The PROFILES the system catalog lacks, made through ``create_profile`` on ``versions``
    (by template and version name); returns those it made, by name."""
    made = {}
    for name, spec in PROFILES.items():
        if ServiceProfile.objects.filter(project=system, name=name).exists():
            continue
        made[name] = services.create_profile(
            project=system,
            actor=actor,
            name=name,
            display_name=spec["display_name"],
            description=spec["description"],
            template_version=versions[spec["template"]],
            service_type=spec["service_type"],
            readme=spec["readme"],
            labels={"paas.envmgmt.io/catalog": "system"},
            sharing="all",
            status=ServiceProfile.Status.READY,
            inputs=spec["inputs"],
            outputs=spec["outputs"],
        )
    return made


class Command(BaseCommand):
    help = "Create the demo projects, users, templates and system profiles (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", required=True, help="Password for every demo user.")

    @transaction.atomic
    def handle(self, *args, password: str, **options) -> None:
        created = []
        system, _ = Project.objects.get_or_create(
            name=SYSTEM_CATALOG,
            defaults={
                "display_name": "System Catalog",
                "description": "Environment templates and service profiles the platform ships.",
            },
        )
        projects = {}
        for name, (display_name, description) in PROJECTS.items():
            projects[name], made = Project.objects.get_or_create(
                name=name, defaults={"display_name": display_name, "description": description}
            )
            created += [f"project {name}"] if made else []

        admin_user = None
        for username, (superuser, roles, first_name) in USERS.items():
            user, made = self._user(username, password, superuser=superuser, first_name=first_name)
            created += [f"user {username}"] if made else []
            admin_user = user if superuser else admin_user
            for project_name, role in roles.items():
                Membership.objects.get_or_create(
                    user=user, project=projects[project_name], defaults={"role": role}
                )

        versions = {}
        for name, spec in TEMPLATES.items():
            template, made = EnvironmentTemplate.objects.get_or_create(
                project=system,
                name=name,
                defaults={
                    "display_name": spec["display_name"],
                    "description": spec["description"],
                    "sharing": "all",
                },
            )
            created += [f"template {name}"] if made else []
            for version_name, (variables, outputs) in spec["versions"].items():
                versions[name, version_name] = self._version(
                    template, version_name, variables, outputs
                )

        made_profiles = system_profiles(system=system, actor=admin_user, versions=versions)
        created += [f"system profile {name}" for name in made_profiles]

        _, made = ComputeInstance.objects.get_or_create(
            project=projects["research"],
            name="demo-workstation",
            defaults={
                "display_name": "Demo workstation",
                "connection": Connection.LOCAL,
                "owner": admin_user,
            },
        )
        created += ["compute instance research/demo-workstation"] if made else []

        if created:
            self.stdout.write(self.style.SUCCESS("Created " + ", ".join(created) + "."))
        else:
            self.stdout.write("Demo data already in place; nothing changed.")

    def _user(self, username: str, password: str, *, superuser: bool, first_name: str):
        User = get_user_model()
        user, made = User.objects.get_or_create(
            username=username,
            defaults={
                "email": f"{username}@example.com",
                "first_name": first_name,
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if made or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        return user, made

    def _version(self, template, name: str, variables: list[dict], outputs: list[tuple]):
        version, made = TemplateVersion.objects.get_or_create(
            template=template,
            name=name,
            defaults={
                "state": TemplateVersion.State.ACTIVE,
                "code_inline": (CODE / f"{template.name}.sh").read_text(),
            },
        )
        if made:
            for position, spec in enumerate(variables):
                spec = dict(spec)
                value = spec.pop("value")
                variable = TemplateVariable(version=version, position=position, **spec)
                variable.set_value(value)
                variable.full_clean()
                variable.save()
            for position, (output, description, sensitive) in enumerate(outputs):
                TemplateOutput.objects.create(
                    version=version,
                    name=output,
                    description=description,
                    sensitive=sensitive,
                    position=position,
                )
        return version
