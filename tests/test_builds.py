"""Functions are built as AWS builds them: Go's bootstrap as AWS documents it (without
aws-lambda-go's RPC mode, stripped), Java's task root with a class-data-sharing archive of
the runtime interface client's classes, as Lambda's Java runtimes start the JVM with one."""

import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from coldbench.build import Function, build
from coldbench.environments.runtime_api import RuntimeAPI
from coldbench.runtimes import get, java
from coldbench.targets.aws.package import package
from coldbench.targets.local.target import LocalTarget

pytestmark = pytest.mark.slow

CLIENT_CLASS = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
JACKSON_CLASS = "com.amazonaws.lambda.thirdparty.com.fasterxml.jackson.databind.ObjectMapper"


def built(name):
    return build(Function.builtin(get(name)))


def section_names(binary: bytes) -> list[str]:
    """The section names of a 64-bit little-endian ELF file, from its section headers."""
    assert binary[:4] == b"\x7fELF" and binary[4:6] == b"\x02\x01"
    (table,) = struct.unpack_from("<Q", binary, 0x28)                 # e_shoff
    entry_size, count, names_index = struct.unpack_from("<HHH", binary, 0x3A)
    # Elf64_Shdr: sh_name, sh_type, sh_flags, sh_addr, sh_offset, ...
    headers = [struct.unpack_from("<IIQQQ", binary, table + i * entry_size) for i in range(count)]
    names_at = headers[names_index][4]
    return [binary[names_at + h[0]:binary.index(b"\0", names_at + h[0])].decode()
            for h in headers]


def assert_built_as_aws_documents(binary: bytes) -> None:
    sections = section_names(binary)
    assert ".text" in sections and ".gopclntab" in sections           # the headers were read
    assert ".symtab" not in sections and ".strtab" not in sections    # -s
    assert not any(s.startswith((".debug", ".zdebug")) for s in sections), sections   # -w
    # lambda.norpc: aws-lambda-go's RPC server, and so net/rpc, is not linked in (function
    # names stay in the pclntab of a stripped binary)
    assert b"net/rpc." not in binary


def test_go_bootstrap_is_stripped_and_without_rpc():
    artifact = built("go")
    bootstrap = artifact.task_root / "bootstrap"
    assert_built_as_aws_documents(bootstrap.read_bytes())
    info = subprocess.run(["go", "version", "-m", str(bootstrap)], capture_output=True,
                          text=True, check=True).stdout
    assert "-tags=lambda.norpc" in info and "CGO_ENABLED=0" in info and "-trimpath=true" in info
    assert artifact.toolchain.endswith("(lambda.norpc, stripped)")


def test_go_deployment_package_is_built_alike():
    pkg = package(built("go"), "arm64", "provided.al2023")
    binary = zipfile.ZipFile(pkg.path).read("bootstrap")
    assert int.from_bytes(binary[18:20], "little") == 183                 # EM_AARCH64
    assert_built_as_aws_documents(binary)


@pytest.fixture(scope="module")
def java_artifact():
    return built("java")


def test_java_task_root_holds_an_archive_of_the_clients_classes(java_artifact):
    root = java_artifact.task_root
    assert (root / java.CDS_ARCHIVE).stat().st_size > 0
    classpath = (root / java.CLASSPATH_FILE).read_text()
    assert "lib/aws-lambda-java-runtime-interface-client-" in classpath
    assert "coldbench-function" not in classpath                       # the function's jar
    listed = [line.split()[0] for line in (root / java.CLASS_LIST).read_text().splitlines()]
    assert CLIENT_CLASS.replace(".", "/") in listed
    assert JACKSON_CLASS.replace(".", "/") in listed
    assert "java/lang/Object" in listed
    assert not any(name.startswith("coldbench/") for name in listed)
    assert java_artifact.toolchain.endswith("(client CDS archive)")


def test_jvm_maps_the_archive_and_loads_the_handler_from_its_jar(java_artifact, tmp_path):
    root = java_artifact.task_root
    argv = java.Java().launch(root, java_artifact.function.handler, 1024).argv
    assert "-Xshare:auto" in argv and f"-XX:SharedArchiveFile={root / java.CDS_ARCHIVE}" in argv
    # -Xshare:on: a JVM that cannot map the archive stops instead of running without it
    argv = [argv[0], "-Xlog:class+load=info",
            *("-Xshare:on" if a == "-Xshare:auto" else a for a in argv[1:])]
    api = RuntimeAPI("arn:aws:lambda:us-east-1:000000000000:function:coldbench-java")
    invocation = api.submit(b'{"work": 3}', 60)
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": str(root),
           "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": "coldbench-java",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
    log = tmp_path / "jvm.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        served = invocation.done.wait(60)
    finally:
        api.close()
        process.wait(timeout=30)
    text = log.read_text()
    assert served and invocation.error is None, text[-3000:]
    sources = {}
    for line in text.splitlines():
        if "[class,load]" in line and " source: " in line:
            name, source = line.split("[class,load] ", 1)[1].split(" source: ", 1)
            sources[name] = source
    assert sources[CLIENT_CLASS] == "shared objects file"
    assert sources[JACKSON_CLASS] == "shared objects file"
    assert sources["coldbench.Handler"].startswith("file:")
    assert sources["coldbench.Handler"].endswith("/lib/coldbench-function-1.0.0.jar")


def test_the_harness_starts_java_with_the_archive_mapped(java_artifact):
    target = LocalTarget(timeout_s=60)
    try:
        environment = target.start(java_artifact, 1024, provisioned=True)   # init done
        maps = Path(f"/proc/{environment.sandbox.runtime_pid}/maps").read_text()
        invoked = environment.invoke({"work": 3})
        environment.close()
    finally:
        target.close()
    assert invoked.error is None, invoked.error
    assert str(java_artifact.task_root / java.CDS_ARCHIVE) in maps
