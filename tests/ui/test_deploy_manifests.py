"""The orchestrator manifests (deploy/kubernetes/), checked against Kubernetes' own
schemas by kubernetes-validate (offline), and against what the deployment needs."""

import kubernetes_validate
import pytest
import yaml
from support import REPO

MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
K8S = "1.33.0"


def documents():
    return [(path.name, doc) for path in MANIFESTS
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_there_are_manifests():
    kinds = {doc["kind"] for _, doc in documents()}
    assert {"Deployment", "Service", "Ingress", "HorizontalPodAutoscaler"} <= kinds


@pytest.mark.parametrize(("name", "doc"), documents(),
                         ids=lambda v: v if isinstance(v, str) else v["metadata"]["name"])
def test_every_resource_is_valid_for_kubernetes(name, doc):
    kubernetes_validate.validate(doc, K8S, strict=True)


def test_a_broken_resource_is_caught():
    """The check bites: a misspelt field fails strict validation."""
    deployment = next(d for _, d in documents() if d["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S, strict=True)


def test_the_ingress_keeps_a_page_and_its_websocket_together():
    ingress = next(d for _, d in documents() if d["kind"] == "Ingress")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert ingress["spec"]["tls"]


def test_page_pods_get_the_database_from_a_secret_and_one_page_each():
    for _, d in documents():
        if d["kind"] != "Deployment":
            continue
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert "--only" in container["args"]
        env = {e["name"]: e for e in container["env"]}
        assert "secretKeyRef" in env["LANG_ASSESS_DB"]["valueFrom"]
