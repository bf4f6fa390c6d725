"""Java, through AWS's runtime interface client (aws-lambda-java-runtime-interface-client).

A function is a Maven project whose dependencies include the runtime interface client.
The build packages it and copies its runtime dependencies, so the task root holds every
jar in ``lib/``; the JVM is then started the way Lambda's java21 runtime starts it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from coldbench.errors import BuildError, MissingToolchain
from coldbench.runtimes.base import Launch, Runtime

HINT = "install a JDK 17+ and Maven (or point COLDBENCH_JAVA_HOME at a JDK)"

# Pinned by full coordinates, so a user's own pom needs no plugin section for it.
COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
CLIENT_JAR = re.compile(r"aws-lambda-java-runtime-interface-client-.*\.jar")
MAIN_CLASS = "com.amazonaws.services.lambda.runtime.api.client.AWSLambda"
# The client loads its native half from this path when the property is set; otherwise it
# copies the library out of its jar to the fixed path /tmp/.libaws-lambda-jni.so and loads
# it from there (JniHelper in client 2.10.1), so two JVMs starting together overwrite the
# file under each other. There is no setting for another extraction folder: only this one,
# naming a library already on disk. Lambda itself sets it (see the command line below).
JNI_PROPERTY = "com.amazonaws.services.lambda.runtime.api.client.runtimeapi.NativeClient.JNI"
JNI_DIR = "jni"


def java_home() -> Path | None:
    """The JDK to build and run with: COLDBENCH_JAVA_HOME, else JAVA_HOME, else none
    (then ``java`` on PATH)."""
    home = os.environ.get("COLDBENCH_JAVA_HOME") or os.environ.get("JAVA_HOME")
    return Path(home) if home else None


def java_executable() -> str:
    """Absolute path of the ``java`` that plays the runtime; MissingToolchain if absent."""
    home = java_home()
    if home is not None:
        java = home / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise MissingToolchain(f"java: no {java}: {HINT}")
        return str(java)
    java = shutil.which("java")
    if java is None:
        raise MissingToolchain(f"java: 'java' not found: {HINT}")
    return java


def jni_library() -> str:
    """File name of the client's native library for this machine, as packed in its jar."""
    arch = {"x86_64": "x86_64", "amd64": "x86_64",
            "aarch64": "aarch_64", "arm64": "aarch_64"}.get(platform.machine().lower())
    if arch is None:
        raise BuildError(f"java: the runtime interface client has no native library for "
                         f"{platform.machine()}: run on x86_64 or arm64")
    libc = "linux_musl" if any(Path("/lib").glob("ld-musl-*")) else "linux"
    return f"libaws-lambda-jni.{libc}-{arch}.so"


def max_heap_kb(memory_mb: int) -> int:
    """The heap Lambda's Java runtime gives the JVM: the memory size less 15 %, at most
    240 MB less. Fits every -XX:MaxHeapSize in the java17 command lines published in
    github.com/sigpwned/the-lambda-iceberg-dissecting-the-official-java-runtimes
    (128 MB -> 111412k, 512 -> 445645k, 2045 -> 1848320k, 10238 -> 10237952k)."""
    memory_kb = memory_mb * 1024
    return memory_kb - min(memory_kb * 15 // 100, 240 * 1024)


class Java(Runtime):
    name = "java"
    default_handler = "coldbench.Handler::handleRequest"
    documented_as = "Java 21"
    lambda_runtime = "java21"
    build_version = "1"
    ignored_dirs = Runtime.ignored_dirs | {"target"}

    def toolchain_version(self) -> str:
        java = java_executable()
        self.require("mvn", HINT)
        out = subprocess.run([java, "-version"], capture_output=True, text=True)
        # First line, e.g. 'openjdk version "17.0.15" 2025-04-15'
        match = re.search(r'^(\S+) version "([^"]+)"', out.stderr, re.MULTILINE)
        if out.returncode != 0 or match is None:
            raise MissingToolchain(f"java: '{java} -version' did not answer: {HINT}")
        vendor = {"openjdk": "OpenJDK", "java": "Java"}.get(match[1], match[1])
        return f"{vendor} {match[2]}"

    def build(self, source: Path, out: Path) -> None:
        mvn = self.require("mvn", HINT)
        env = dict(os.environ)
        home = java_home()
        if home is not None:
            env["JAVA_HOME"] = str(home)   # Maven compiles with the JDK that runs the function
        lib = out / "lib"
        # Maven writes target/ next to the pom: work on a copy so the source stays clean.
        with tempfile.TemporaryDirectory(prefix="coldbench-java-") as work:
            project = Path(work) / "project"
            shutil.copytree(source, project, ignore=shutil.ignore_patterns(*self.ignored_dirs))
            self.run_tool([mvn, "-q", "-B", "-Dstyle.color=never", "-DskipTests", "package",
                           COPY_DEPENDENCIES, "-DincludeScope=runtime",
                           f"-DoutputDirectory={lib}"], cwd=project, env=env)
            jars = [p for p in sorted((project / "target").glob("*.jar"))
                    if not p.name.startswith("original-")
                    and not p.stem.endswith(("-sources", "-javadoc", "-tests"))]
            if not jars:
                raise BuildError(f"java: 'mvn package' made no jar in {source}/target: "
                                 "is the pom's packaging 'jar'?")
            lib.mkdir(parents=True, exist_ok=True)
            for jar in jars:
                shutil.copy2(jar, lib / jar.name)
        clients = [p for p in lib.iterdir() if CLIENT_JAR.fullmatch(p.name)]
        if not clients:
            raise BuildError("java: the function does not depend on the runtime interface "
                             "client: add com.amazonaws:aws-lambda-java-runtime-interface-"
                             "client to the pom's dependencies (not in 'provided' scope)")
        # Lambda ships the client's native library unpacked, beside the client's jars
        # (/var/runtime/lib/jni/) and names it on the command line; so does this task root.
        library = jni_library()
        (out / JNI_DIR).mkdir()
        with zipfile.ZipFile(clients[0]) as jar:
            try:
                data = jar.read(f"jni/{library}")
            except KeyError:
                raise BuildError(f"java: {clients[0].name} has no jni/{library}") from None
        (out / JNI_DIR / library).write_bytes(data)

    def launch(self, task_root: Path, handler: str, memory_mb: int) -> Launch:
        # The JVM options of Lambda's Java runtime, as it printed its own command line
        # (java17, 2023 and 2024, in the repository cited at max_heap_kb; AWS documents
        # the same serial GC and tiered compilation stopping at level 1 for Java 17 and
        # Java 21: docs.aws.amazon.com/lambda/latest/dg/java-customization.html):
        #   -XX:MaxHeapSize=<memory less 15 %, at most 240 MB less>k
        #   -javaagent:/var/runtime/lib/Log4jHotPatch.jar=log4jFixerVerbose=false
        #   -XX:+UseSerialGC -Xshare:on -XX:SharedArchiveFile=/var/lang/lib/server/runtime.jsa
        #   -XX:+TieredCompilation -XX:TieredStopAtLevel=1
        #   --add-opens=java.base/java.io=ALL-UNNAMED
        #   -Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac
        #   -Djava.net.preferIPv4Stack=true -XX:+ErrorFileToStderr
        #   -D<JNI_PROPERTY>=/var/runtime/lib/jni/libaws-lambda-jni.linux-x86_64.so
        #   -classpath /var/runtime/lib/<core, client, serialization jars> <MAIN_CLASS> <handler>
        # Differences: no Log4jHotPatch agent (Lambda's own, not published); the JDK's
        # default class-data archive instead of Lambda's runtime.jsa, with -Xshare:auto so
        # a JDK without one still starts; the client's jars come from the task root.
        #
        # Temporary files: the harness gives each environment its own TMPDIR, but the JVM
        # ignores TMPDIR (java.io.tmpdir is /tmp on Linux), and argv is not expanded by a
        # shell, so launch() cannot pass it as -Djava.io.tmpdir without a wrapper shell in
        # the measured init. Nothing needs it: the only file the client would write at
        # start is its native library, which the build unpacked into the task root and
        # JNI_PROPERTY names, so JVMs starting together share a read-only file and race
        # on nothing (hsperfdata goes to /tmp/hsperfdata_<user>/<pid>, per process).
        # JAVA_TOOL_OPTIONS is left unset: on Lambda it is the user's to set.
        return Launch(argv=[
            java_executable(),
            f"-XX:MaxHeapSize={max_heap_kb(memory_mb)}k",
            "-XX:+UseSerialGC",
            "-Xshare:auto",
            "-XX:+TieredCompilation",
            "-XX:TieredStopAtLevel=1",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac",
            "-Djava.net.preferIPv4Stack=true",
            "-XX:+ErrorFileToStderr",
            f"-D{JNI_PROPERTY}={task_root / JNI_DIR / jni_library()}",
            "-classpath", str(task_root / "lib" / "*"),   # the JVM expands the wildcard
            MAIN_CLASS,
            handler,
        ])
