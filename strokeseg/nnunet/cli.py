"""``strokeseg nnunet install | uninstall | check | env``: make strokeseg's classes findable by the stock nnU-Net
CLIs (see :mod:`strokeseg.nnunet.plugins`, imported when a command runs)."""

from __future__ import annotations

import argparse

from strokeseg.cli_options import add_command, add_subcommands
from strokeseg.nnunet.ext_trainer import (
    EXT_TRAINER_ROUTE,
    EXT_TRAINER_VARIABLE,
    SHIM_ROUTE,
    ext_trainer_export_line,
    ext_trainer_folder,
)

DESCRIPTION = f"""\
nnU-Net 2.8 finds classes by name. Trainers: it also searches the folders listed in ${EXT_TRAINER_VARIABLE}, and
strokeseg ships such a folder; strokeseg's own commands add it for every nnU-Net tool they run, and 'env' prints
the line that adds it in your shell (for nnUNetv2_train / nnUNetv2_predict by hand).

Planners, preprocessors and normalizations: nnU-Net only searches its own package folders, so 'install' writes
one small shim module per kind there (recorded in nnunetv2/.strokeseg_shims.json); where nnU-Net cannot import
its own trainer package (and so never reaches ${EXT_TRAINER_VARIABLE}), 'install' adds a trainer shim as well.
'uninstall' removes exactly those files. 'check' resolves every class with nnU-Net's own lookup functions and
shows its route. Run 'install' again after reinstalling or upgrading nnunetv2.
"""


# ------------------------------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg nnunet ...`` to the CLI."""
    parser = add_command(subparsers, "nnunet", "install, remove or check what lets the stock nnU-Net CLIs find "
                                               "strokeseg classes", DESCRIPTION)
    actions = add_subcommands(parser, "nnunet_action", "{install,uninstall,check,env}")
    install_parser = add_command(actions, "install", "write the shim modules into the nnunetv2 package")
    install_parser.add_argument("--force", action="store_true",
                                help="install even if the nnunetv2 version is not one strokeseg was tested with")
    install_parser.add_argument("--trainer-route", choices=(EXT_TRAINER_ROUTE, SHIM_ROUTE), default=None,
                                help=f"how nnU-Net finds the trainers (default: {EXT_TRAINER_ROUTE}, unless nnU-Net "
                                     "cannot import its own trainer package here, then a shim)")
    install_parser.set_defaults(func=_cli_install)
    add_command(actions, "uninstall", "remove exactly the shim modules install wrote").set_defaults(
        func=_cli_uninstall)
    add_command(actions, "check", "resolve every exported class with nnU-Net's own lookup; exit 1 if any is "
                                  "missing").set_defaults(func=_cli_check)
    add_command(actions, "env", f"print the shell line that adds strokeseg's trainers to ${EXT_TRAINER_VARIABLE}",
                f"Print the shell line that adds strokeseg's trainers to ${EXT_TRAINER_VARIABLE}. Use it as\n\n"
                '    eval "$(strokeseg nnunet env)"').set_defaults(func=_cli_env)


def _trainer_route_hint() -> str:
    from strokeseg.nnunet.plugins import locate_nnunet, read_manifest

    manifest = read_manifest(locate_nnunet())
    if manifest.trainer_route == SHIM_ROUTE:
        return (f"Trainers: shim (fallback). nnU-Net cannot import its own trainer package here "
                f"({manifest.trainer_route_reason}), so it would never reach ${EXT_TRAINER_VARIABLE}; the trainer "
                "shim re-exports strokeseg's trainers and searches the folders of "
                f"${EXT_TRAINER_VARIABLE} itself. Run `strokeseg nnunet install` again once that import works.")
    return (f"Trainers: found through ${EXT_TRAINER_VARIABLE} (folder {ext_trainer_folder()}); strokeseg's commands "
            "set it for the nnU-Net tools they run. For nnUNetv2_train / nnUNetv2_predict by hand, run this in your "
            f"shell (or add it to your shell profile):\n  {ext_trainer_export_line()}")


def _cli_install(args: argparse.Namespace) -> int:
    from strokeseg.nnunet.plugins import install, locate_nnunet, nnunet_version

    root = locate_nnunet()
    manifest = install(root, force=args.force, trainer_route=args.trainer_route)
    print(f"strokeseg shims installed into nnunetv2 {nnunet_version()} at {root}:")
    for relative in manifest.files:
        print(f"  {root / relative}")
    print(_trainer_route_hint())
    return 0


def _cli_uninstall(args: argparse.Namespace) -> int:
    from strokeseg.nnunet.plugins import locate_nnunet, uninstall

    removed = uninstall()
    print(f"removed {len(removed)} strokeseg shim file(s) from {locate_nnunet()}")
    return 0


def _cli_check(args: argparse.Namespace) -> int:
    from strokeseg.nnunet.plugins import check, format_check_table, nnunet_version

    results = check()
    print(format_check_table(results))
    missing = [r for r in results if not r.ok]
    if any(r.route != EXT_TRAINER_ROUTE for r in missing):
        print("\nShims missing. Fix: run `strokeseg nnunet install` with the Python environment that runs "
              "nnUNetv2_* (e.g. `.venv/bin/strokeseg nnunet install`).")
    if any(r.route == EXT_TRAINER_ROUTE for r in missing):
        print(f"\nTrainers not found in this shell. {_trainer_route_hint()}")
    if missing:
        print(f"\n{len(missing)} class(es) not found by nnU-Net.")
        return 1
    print(f"\nall {len(results)} strokeseg classes are found by nnU-Net {nnunet_version()}")
    return 0


def _cli_env(args: argparse.Namespace) -> int:
    print(ext_trainer_export_line())
    return 0
