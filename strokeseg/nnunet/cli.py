"""``strokeseg nnunet install | uninstall | check``: the shims that let the stock nnU-Net CLIs find strokeseg's
classes (see :mod:`strokeseg.nnunet.plugins`)."""

from __future__ import annotations

import argparse

from strokeseg.nnunet.plugins import check, format_check_table, install, locate_nnunet, nnunet_version, uninstall

DESCRIPTION = """\
nnU-Net 2.8 finds planners, preprocessors, normalizations and trainers by name inside its own package folders.
`install` writes one small shim module per kind there, re-exporting strokeseg's classes (recorded in
nnunetv2/.strokeseg_shims.json); `uninstall` removes exactly those files; `check` resolves every class with
nnU-Net's own lookup functions. Run `install` again after reinstalling or upgrading nnunetv2.
"""


# ------------------------------------------------------------------------------------------------------
def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``strokeseg nnunet ...`` to the CLI."""
    parser = subparsers.add_parser(
        "nnunet", help="install, remove or check the shims that let the stock nnU-Net CLIs find strokeseg classes",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="nnunet_action", required=True, metavar="{install,uninstall,check}")
    install_parser = actions.add_parser("install", help="write the shim modules into the nnunetv2 package")
    install_parser.add_argument("--force", action="store_true",
                                help="install even if the nnunetv2 version is not one strokeseg was tested with")
    install_parser.set_defaults(func=_cli_install)
    actions.add_parser("uninstall", help="remove exactly the shim modules install wrote").set_defaults(
        func=_cli_uninstall)
    actions.add_parser("check", help="resolve every exported class with nnU-Net's own lookup; "
                                     "exit 1 if any is missing").set_defaults(func=_cli_check)


def _cli_install(args: argparse.Namespace) -> int:
    paths = install(force=args.force)
    print(f"strokeseg shims installed into nnunetv2 {nnunet_version()} at {locate_nnunet()}:")
    for path in paths:
        print(f"  {path}")
    return 0


def _cli_uninstall(args: argparse.Namespace) -> int:
    removed = uninstall()
    print(f"removed {len(removed)} strokeseg shim file(s) from {locate_nnunet()}")
    return 0


def _cli_check(args: argparse.Namespace) -> int:
    results = check()
    print(format_check_table(results))
    missing = [r for r in results if not r.ok]
    if missing:
        print(f"\n{len(missing)} class(es) not found by nnU-Net. Fix: run `strokeseg nnunet install` with the "
              "Python environment that runs nnUNetv2_* (e.g. `.venv/bin/strokeseg nnunet install`).")
        return 1
    print(f"\nall {len(results)} strokeseg classes are found by nnU-Net {nnunet_version()}")
    return 0
