"""The packages the GPU check carries to a GPU machine that cannot reach a package registry.

The GPU machine has Python 3.12 with a CUDA build of torch and the packages listed in ``gpu_image_packages.txt``
(numpy, scipy, scikit-image, pandas, matplotlib, timm, scikit-learn, pytest, ...); everything else strokeseg's
GPU check imports travels inside the copied working tree, whose total is capped at 64 MiB. SimpleITK's wheel
alone is ~53 MB, so the wheels are re-packed uncompressed and the set is compressed once with xz. Sub-commands:

* ``prepare`` (here, with a package registry): ``pip download`` the :data:`CARRIED` distributions at the
  versions installed in this environment (so the GPU runs what was tested here) for cp312 manylinux x86_64,
  check that their requirements are carried, in the image or listed in :data:`NOT_IMPORTED`, write
  ``DEST/wheels.tar.xz`` and ``DEST/manifest.json`` and print the budget against the 64 MiB cap.
* ``install`` (on the GPU machine; standard library only): unpack the bundle and ``pip install --no-index
  --no-deps --target``; skipped when the target already holds this bundle (a warm machine).
* ``verify`` (dry run, here): the bundle's wheels resolve for cp312 manylinux x86_64 with pip's
  ``install --dry-run --no-index``, and the manifest matches this environment's versions.
* ``audit`` (dry run, here): every distribution the dry run imported (records written by
  ``gpu_audit/sitecustomize.py``) is carried, in the image, an optional import or strokeseg itself.

Only the standard library is imported at module level: ``install`` runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

#: Distributions the GPU image holds (gpu_image_packages.txt: the device documentation's list of the image).
IMAGE_PACKAGES_FILE = Path(__file__).with_name("gpu_image_packages.txt")
#: Distributions the GPU check imports that the image lacks; installed there with ``--no-deps``.
CARRIED: tuple[str, ...] = (
    "nnunetv2", "acvl-utils", "dynamic-network-architectures", "batchgenerators", "batchgeneratorsv2",
    "simpleitk", "nibabel", "blosc2", "ndindex", "connected-components-3d", "torchio", "deprecated",
    "monai",  # MONAI's SwinUNETR (the Swin UNETR trainers); a 1.7 MB pure-Python wheel needing numpy and torch
)
#: Requirements of carried distributions that neither the image nor the bundle holds (name: why not needed).
NOT_IMPORTED: dict[str, str] = {
    "graphviz": "nnU-Net's network plot only", "imagecodecs": "compressed TIFF input only (tifffile's option)",
    "yacs": "nnU-Net's unused configuration helper", "dicom2nifti": "nnU-Net's dataset conversion scripts only",
    "future": "batchgenerators' Python 2 shims, not imported", "unittest2": "batchgenerators' tests only",
    "pydantic": "blosc2's optional parts, not imported", "timm": "in the image (dynamic-network-architectures "
    "pins timm<1.0.23; the image's build is used)",
}
#: Distributions this environment imports during the dry run only because they are installed here; the module
#: that imports them works without them (name: importer).
OPTIONAL_IMPORTS: dict[str, str] = {
    "imagecodecs": "tifffile (optional codecs)", "pydicom": "nibabel (optional DICOM reader)",
}
#: pip's platform tags for the GPU machine (Python 3.12, glibc ≥ 2.28, x86-64).
PYTHON_VERSION = "3.12"
PLATFORMS: tuple[str, ...] = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
                              "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
#: Cap on the working tree the device tool copies, bytes.
TREE_CAP_BYTES = 64 * 2**20
BUNDLE, MANIFEST, STAMP = "wheels.tar.xz", "manifest.json", ".strokeseg-gpu-bundle"


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalize(match.group(1)) if match else ""


def _applies(requirement: str) -> bool:
    """Whether a Requires-Dist line applies on the GPU machine (no extra; markers for Linux, Python 3.12)."""
    if ";" not in requirement:
        return True
    from packaging.markers import Marker  # only in the prepare/verify/audit environment

    environment = {"python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
                   "os_name": "posix", "implementation_name": "cpython", "extra": ""}
    return Marker(requirement.split(";", 1)[1]).evaluate(environment)


def installed_requirements(name: str) -> list[str]:
    """Names of the requirements of an installed distribution that apply on the GPU machine."""
    import importlib.metadata as metadata

    return [_requirement_name(r) for r in metadata.distribution(name).requires or [] if _applies(r)]


def image_packages() -> set[str]:
    """Normalised names of the distributions in the GPU image (:data:`IMAGE_PACKAGES_FILE`)."""
    lines = IMAGE_PACKAGES_FILE.read_text(encoding="utf-8").splitlines()
    return {normalize(line.strip()) for line in lines if line.strip() and not line.startswith("#")}


def uncovered(requirements: dict[str, list[str]]) -> list[str]:
    """'carried -> requirement' for every requirement neither carried, in the image nor in NOT_IMPORTED."""
    covered = {normalize(n) for n in CARRIED} | image_packages() | {normalize(n) for n in NOT_IMPORTED}
    return [f"{owner} -> {name}" for owner, names in sorted(requirements.items()) for name in names
            if name not in covered]


def local_versions() -> dict[str, str]:
    """name -> version installed here for every carried distribution."""
    import importlib.metadata as metadata

    versions = {}
    for name in CARRIED:
        try:
            versions[normalize(name)] = metadata.version(name)
        except metadata.PackageNotFoundError as error:
            raise SystemExit(f"{name} is not installed in this environment ({sys.executable}); run `make install` "
                             "first: the GPU check carries the versions tested here") from error
    return versions


def _pip_platform_arguments() -> list[str]:
    arguments = ["--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp"]
    for platform in PLATFORMS:
        arguments += ["--platform", platform]
    return arguments


def download_wheel(pin: str, folder: Path) -> None:
    """The wheel of ``pin`` for the GPU machine; a project published as source only (acvl-utils, batchgenerators)
    is built here into a wheel, which must then be pure Python."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check"]
    found = subprocess.run([*command, *_pip_platform_arguments(), "--dest", str(folder), pin], capture_output=True)
    if found.returncode == 0:
        return
    with tempfile.TemporaryDirectory(prefix="gpu_sdist_") as temporary:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                        "--wheel-dir", temporary, pin], check=True)
        for wheel in Path(temporary).glob("*.whl"):
            if not wheel.name.endswith("-none-any.whl"):
                raise SystemExit(f"{pin}: no wheel for cp{PYTHON_VERSION.replace('.', '')} manylinux x86_64 on the "
                                 f"registry and the one built here is platform-specific ({wheel.name})")
            shutil.move(str(wheel), folder / wheel.name)


def _stored_copy(wheel: Path, folder: Path) -> Path:
    """The wheel re-packed without compression (same files, same RECORD), so that xz compresses its content."""
    target = folder / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        for item in source.infolist():
            copy.writestr(item, source.read(item), compress_type=zipfile.ZIP_STORED)
    return target


def _wheel_requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(metadata_name).decode("utf-8")
    lines = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    return [_requirement_name(line) for line in lines if _applies(line)]


def tracked_tree_bytes(repository: Path) -> int:
    """Bytes of the files git tracks in ``repository`` (what the device tool copies besides carried paths)."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=repository, capture_output=True, check=True).stdout
    return sum((repository / name).stat().st_size for name in listing.decode().split("\0")
               if name and (repository / name).is_file())


def prepare(dest: Path, repository: Path) -> None:
    """Download, check, re-pack and compress the carried wheels into ``dest``; print the budget."""
    versions = local_versions()
    with tempfile.TemporaryDirectory(prefix="gpu_wheels_") as temporary:
        downloads, stored = Path(temporary, "downloads"), Path(temporary, "stored")
        stored.mkdir()
        for name, version in sorted(versions.items()):
            download_wheel(f"{name}=={version}", downloads)
        wheels = sorted(downloads.glob("*.whl"))
        requirements = {wheel.name.split("-")[0]: _wheel_requirements(wheel) for wheel in wheels}
        missing = uncovered(requirements)
        if missing:
            raise SystemExit("requirements neither carried, in the image nor listed as unused: " + "; ".join(missing)
                             + " (add them to CARRIED or NOT_IMPORTED in benchmarks/gpu_wheels.py)")
        dest.mkdir(parents=True, exist_ok=True)
        bundle = dest / BUNDLE
        partial = dest / f".{BUNDLE}.partial"
        with tarfile.open(partial, "w:xz", preset=6) as archive:
            for wheel in wheels:
                archive.add(_stored_copy(wheel, stored), arcname=wheel.name)
        os.replace(partial, bundle)
        wheel_bytes = {w.name: w.stat().st_size for w in wheels}
    manifest = {"python_version": PYTHON_VERSION, "platforms": list(PLATFORMS), "versions": versions,
                "wheel_bytes": wheel_bytes, "bundle_sha256": hashlib.sha256(bundle.read_bytes()).hexdigest()}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    print_budget(dest, repository, sum(manifest["wheel_bytes"].values()))


def print_budget(dest: Path, repository: Path, wheel_bytes: int) -> None:
    bundle = (dest / BUNDLE).stat().st_size + (dest / MANIFEST).stat().st_size
    tree = tracked_tree_bytes(repository)
    total = tree + bundle
    mib = 2**20
    print(f"wheels: {wheel_bytes / mib:.1f} MiB as downloaded -> bundle {bundle / mib:.1f} MiB (xz); "
          f"tracked tree {tree / mib:.1f} MiB; total {total / mib:.1f} MiB of the {TREE_CAP_BYTES / mib:.0f} MiB cap "
          f"({'fits' if total <= TREE_CAP_BYTES else 'OVER the cap'})")
    if total > TREE_CAP_BYTES:
        raise SystemExit(1)


def unpack(source: Path, folder: Path) -> list[Path]:
    """Extract the bundle's wheels into ``folder``."""
    with tarfile.open(source / BUNDLE, "r:xz") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".whl") and "/" not in m.name]
        archive.extractall(folder, members=members, filter="data")
    return sorted(folder.glob("*.whl"))


def install(source: Path, target: Path) -> None:
    """Install the bundle into ``target`` (``pip --no-index --no-deps``), unless it already holds this bundle."""
    digest = json.loads((source / MANIFEST).read_text())["bundle_sha256"]
    stamp = target / STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        print(f"{target} already holds this bundle (warm machine): not reinstalled")
        return
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="gpu_wheels_") as temporary:
        wheels = unpack(source, Path(temporary))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-compile",
                        "--no-cache-dir", "--disable-pip-version-check", "--target", str(target),
                        *map(str, wheels)], check=True)
    stamp.write_text(digest + "\n")
    print(f"installed {len(wheels)} wheels into {target}")


def verify(source: Path) -> None:
    """The bundle resolves for the GPU machine and carries the versions installed here."""
    manifest = json.loads((source / MANIFEST).read_text())
    stale = {name: (manifest["versions"].get(name), version) for name, version in local_versions().items()
             if manifest["versions"].get(name) != version}
    if stale:
        raise SystemExit(f"{source} is stale (bundle version, installed version): {stale}; run "
                         "`benchmarks/gpu_check.sh --prepare`")
    with tempfile.TemporaryDirectory(prefix="gpu_wheels_") as temporary:
        unpack(source, Path(temporary))
        pins = [f"{name}=={version}" for name, version in sorted(manifest["versions"].items())]
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--no-index", "--no-deps",
                        "--ignore-installed", "--find-links", temporary, *_pip_platform_arguments(),
                        "--target", str(Path(temporary, "target")), *pins], check=True)
    print(f"{source}: {len(manifest['versions'])} pinned wheels resolve for cp{PYTHON_VERSION.replace('.', '')} "
          "manylinux x86_64")


def imported_distributions(records: Iterable[Path]) -> set[str]:
    """Distributions (normalised names) owning the top-level modules listed in the audit records."""
    import importlib.metadata as metadata

    owners = metadata.packages_distributions()
    modules = {line.strip() for record in records for line in record.read_text().splitlines() if line.strip()}
    return {normalize(owner) for module in modules - set(sys.stdlib_module_names) for owner in owners.get(module, [])}


def audit(records_folder: Path) -> None:
    """Fail when the dry run imported a distribution that the GPU machine would lack."""
    imported = imported_distributions(sorted(records_folder.glob("*.txt")))
    covered = {normalize(n) for n in CARRIED} | image_packages() | {normalize(n) for n in OPTIONAL_IMPORTS} | {
        "strokeseg"}
    missing = sorted(imported - covered)
    if missing:
        raise SystemExit(f"the GPU check imports {', '.join(missing)}, which the GPU machine lacks: add them to "
                         "CARRIED in benchmarks/gpu_wheels.py")
    unused = sorted({normalize(n) for n in CARRIED} - imported)
    print(f"import audit: {len(imported)} distributions imported, all carried, in the image or optional"
          + (f"; carried but not imported in the dry run: {', '.join(unused)}" if unused else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("prepare", "install", "verify"):
        command = commands.add_parser(name)
        command.add_argument("--source" if name != "prepare" else "--dest", type=Path, default=Path(".gpu_wheels"))
        if name == "install":
            command.add_argument("--target", type=Path, required=True)
    commands.add_parser("audit").add_argument("records", type=Path)
    arguments = parser.parse_args(argv)
    if arguments.command == "prepare":
        prepare(arguments.dest, Path(__file__).resolve().parents[1])
    elif arguments.command == "install":
        install(arguments.source, arguments.target)
    elif arguments.command == "verify":
        verify(arguments.source)
    else:
        audit(arguments.records)


if __name__ == "__main__":
    main()
