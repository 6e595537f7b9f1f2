"""``data_processing`` with its tables in S3: the committed ``s3`` configuration environment.

A real ``moto_server`` process on 127.0.0.1 stands in for S3, with IAM checks on, so the key and
secret in ``conf/s3/credentials.yml`` are what let a run in. Each run is ``kedro run --env s3``
in a copy of the project holding the committed ``conf/s3/`` and the credentials file a user
writes: moving the data to object storage is configuration only.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader

from fraud_detection.pipelines.data_processing import create_pipeline
from tests.conftest import ROOT, SMALL_RUN_PARAMS, kedro, make_project_copy, stop_process_group
from tests.serving.server import free_port

MOTO_SERVER = Path(sys.executable).with_name("moto_server")
BUCKET = "fraud-detection-data"
"""The bucket named in the committed conf/s3/globals.yml; the tests create it on the server."""
BROKEN_BUCKET = "fraud-detection-broken"
"""A second bucket, for raw data that breaks its contract."""
TABLES = {
    "raw_transactions": "01_raw/transactions.parquet",
    "transactions_clean": "02_intermediate/transactions_clean.parquet",
    "activity_aggregates": "03_primary/activity_aggregates.parquet",
    "scoring_input": "04_feature/scoring_input.parquet",
}
"""What data_processing reads and writes, and where: the same path in the bucket as under data/."""
RAW_LAYER = {"01_raw/customers.parquet", "01_raw/merchants.parquet"}
"""The rest of data_generation's output, which the s3 environment keeps in the bucket too."""
PIPELINE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"],
            "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
        }
    ],
}
"""All the pipeline's access key may do: list, read and write objects (no delete, no admin)."""


@dataclass(frozen=True)
class S3Server:
    """A local S3 endpoint and the access key of the pipeline's IAM user on it."""

    endpoint: str
    key: str
    secret: str

    def client(self) -> Any:
        """A boto3 S3 client acting as the pipeline's user."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )

    def keys(self, bucket: str = BUCKET) -> set[str]:
        """The names of the objects in ``bucket``."""
        listing = self.client().list_objects_v2(Bucket=bucket)
        return {item["Key"] for item in listing.get("Contents", [])}

    def read(self, key: str, bucket: str = BUCKET) -> pd.DataFrame:
        """The Parquet object ``key`` of ``bucket`` as a DataFrame."""
        body = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return pd.read_parquet(io.BytesIO(body))


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``moto_server`` in a process of its own, with the buckets and an IAM user that may use them.

    The user and buckets are made while the server still accepts anyone; then IAM checks are
    switched on. The server is always stopped.
    """
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(endpoint, process, log)
        admin = {
            "endpoint_url": endpoint,
            "aws_access_key_id": "admin",
            "aws_secret_access_key": "admin",
            "region_name": "us-east-1",
        }
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="pipeline")
        iam.put_user_policy(
            UserName="pipeline", PolicyName="data", PolicyDocument=json.dumps(PIPELINE_POLICY)
        )
        key = iam.create_access_key(UserName="pipeline")["AccessKey"]
        for bucket in (BUCKET, BROKEN_BUCKET):
            boto3.client("s3", **admin).create_bucket(Bucket=bucket)
        # From now on every request must be signed with a key IAM knows, as on AWS.
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        stop_process_group(process)


def _wait_ready(endpoint: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"moto_server exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"moto_server not ready after 60 s:\n{log.read_text()}")


def s3_project(
    dest: Path,
    s3: S3Server,
    *,
    credentials: bool = True,
    secret: str | None = None,
    bucket: str | None = None,
) -> Path:
    """A project copy with the committed ``conf/s3/`` and the user's ``conf/s3/credentials.yml``.

    The keyword arguments make a user's mistakes: no credentials file, a wrong ``secret``, a
    ``bucket`` in globals.yml other than the committed one.
    """
    project = make_project_copy(dest)
    shutil.copytree(ROOT / "conf" / "s3", project / "conf" / "s3")
    if credentials:
        entry = {
            "key": s3.key,
            "secret": secret or s3.secret,
            "client_kwargs": {"endpoint_url": s3.endpoint},
        }
        (project / "conf" / "s3" / "credentials.yml").write_text(
            yaml.safe_dump({"s3": entry}, sort_keys=False)
        )
    if bucket is not None:
        (project / "conf" / "s3" / "globals.yml").write_text(f"s3_bucket: {bucket}\n")
    return project


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy where data_generation and data_processing ran on local paths."""
    project = make_project_copy(tmp_path_factory.mktemp("local") / "project")
    result = kedro(
        project,
        "run",
        "--pipelines",
        "data_generation,data_processing",
        "--params",
        SMALL_RUN_PARAMS,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


@pytest.fixture(scope="module")
def s3_run(
    s3: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The same two pipelines with ``--env s3``: data_generation fills the bucket's raw layer."""
    project = s3_project(tmp_path_factory.mktemp("s3") / "project", s3)
    result = kedro(
        project,
        "run",
        "--env",
        "s3",
        "--pipelines",
        "data_generation,data_processing",
        "--params",
        SMALL_RUN_PARAMS,
    )
    return project, result


def test_s3_environment_changes_only_where_the_data_lives():
    """Each conf/s3 entry is its conf/base entry with an s3:// path and credentials, no more."""
    conf = str(ROOT / "conf")
    base = OmegaConfigLoader(conf, base_env="base", default_run_env="base")["catalog"]
    loader = OmegaConfigLoader(conf, base_env="base", default_run_env="s3")
    bucket = loader["globals"]["s3_bucket"]
    merged = loader["catalog"]
    pipeline = create_pipeline()

    moved = {name for name, entry in merged.items() if entry != base.get(name)}
    assert moved >= pipeline.inputs() | pipeline.all_outputs()
    for name in moved:
        entry = dict(merged[name])
        assert entry.pop("credentials") == "s3"
        filepath = entry.pop("filepath")
        assert filepath == f"s3://{bucket}/" + base[name]["filepath"].removeprefix("data/")
        assert entry == {k: v for k, v in base[name].items() if k != "filepath"}


@pytest.mark.slow
def test_run_writes_the_tables_to_the_bucket_and_nothing_locally(s3_run, s3: S3Server):
    """Exit 0; every table is an object in the bucket; the project's data/ holds nothing but
    the run's manifest (data/09_tracking, which names the objects the run read and wrote)."""
    project, result = s3_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert s3.keys() == set(TABLES.values()) | RAW_LAYER
    local = [p for p in (project / "data").rglob("*") if p.is_file()]
    assert [p for p in local if "09_tracking" not in p.parts] == []


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TABLES))
def test_tables_in_the_bucket_equal_a_local_run(s3_run, s3: S3Server, local_run: Path, name: str):
    """What the bucket holds is exactly what the same run writes to data/ on local paths."""
    assert s3_run[1].returncode == 0
    local = pd.read_parquet(local_run / "data" / TABLES[name])
    pd.testing.assert_frame_equal(s3.read(TABLES[name]), local)


@pytest.mark.slow
def test_contracts_hold_in_the_bucket(s3_run, s3: S3Server):
    """`kedro contract check --env s3` validates the tables where they are: all pass."""
    project, run = s3_run
    assert run.returncode == 0
    result = kedro(project, "contract", "check", "--env", "s3", *TABLES)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in TABLES:
        assert f"{name}: passed" in result.stdout


@pytest.mark.slow
def test_credentials_never_reach_the_output(s3_run, s3: S3Server):
    """Neither the access key nor its secret appears in what `kedro run` prints."""
    output = s3_run[1].stdout + s3_run[1].stderr
    assert s3.key not in output
    assert s3.secret not in output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (
            {"secret": "not-the-secret"},
            [
                "raw_transactions: Failed while loading",
                f"'{BUCKET}/01_raw/transactions.parquet'",
                "Forbidden",
            ],
        ),
        (
            {"bucket": "no-such-bucket"},
            [
                "raw_transactions: Failed while loading",
                "'no-such-bucket/01_raw/transactions.parquet'",
            ],
        ),
        ({"credentials": False}, ["Unable to find credentials 's3'"]),
    ],
    ids=["wrong secret", "missing bucket", "no credentials file"],
)
def test_configuration_mistakes_stop_the_run_naming_the_cause(
    s3_run, s3: S3Server, tmp_path: Path, mistake: dict[str, object], message: list[str]
):
    """Wrong secret, missing bucket, no credentials: exit 1, the cause in the last lines."""
    assert s3_run[1].returncode == 0  # the raw data is in the bucket: only the mistake is wrong
    project = s3_project(tmp_path / "project", s3, **mistake)

    result = kedro(project, "run", "--env", "s3", "--pipelines", "data_processing")

    assert result.returncode == 1
    last = _last_message(result.stderr)
    for fragment in message:
        assert fragment in last, result.stderr[-3000:]
    assert s3.key not in result.stdout + result.stderr
    assert s3.secret not in result.stdout + result.stderr
    assert s3.keys() == set(TABLES.values()) | RAW_LAYER  # nothing written
    if "credentials" not in mistake:  # storage errors are one short message (lab2prod's hook)
        assert "╰" not in result.stderr and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert "Check the dataset's filepath and credentials" in last


def _last_message(stderr: str) -> str:
    """What the terminal shows after the last traceback box: the error itself."""
    lines = stderr.strip().splitlines()
    boxes = [i for i, line in enumerate(lines) if line.startswith("╰")]
    return "\n".join(lines[boxes[-1] + 1 :] if boxes else lines)


@pytest.mark.slow
def test_contract_failure_in_the_bucket_is_reported_locally(
    s3: S3Server, local_run: Path, tmp_path: Path
):
    """Raw data in the bucket breaking its contract: exit 1, the summary, every case on disk."""
    raw = pd.read_parquet(local_run / "data" / TABLES["raw_transactions"])
    raw.loc[raw.index[:3], "amount"] = -5.0
    s3.client().put_object(
        Bucket=BROKEN_BUCKET, Key=TABLES["raw_transactions"], Body=raw.to_parquet(index=False)
    )
    project = s3_project(tmp_path / "project", s3, bucket=BROKEN_BUCKET)

    result = kedro(project, "run", "--env", "s3", "--pipelines", "data_processing")

    assert result.returncode == 1
    assert "Validation failed for dataset 'raw_transactions' on load" in result.stderr
    assert "amount: greater_than(0.0) — 3 cases" in result.stderr
    report = project / "data/08_reporting/validation/raw_transactions.csv"
    assert "All 3 failure case(s) are in data/08_reporting/validation/raw_transactions.csv" in (
        result.stderr
    )
    assert len(pd.read_csv(report).query("column == 'amount'")) == 3
    assert s3.keys(BROKEN_BUCKET) == {TABLES["raw_transactions"]}  # nothing downstream written
