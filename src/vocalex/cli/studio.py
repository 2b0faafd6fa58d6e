"""``vocalex studio``: a local web page to separate, listen, mix and run live (needs `pip install 'vocalex[studio]'`)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("studio", help="a local web page: separate files, listen to and mix the stems, run live",
                       description="Serve the vocalex studio page on this machine, print its address and open a browser.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; any other needs the access token "
                        "printed at start)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--root", metavar="DIR", help="a folder whose audio files the page may pick (and nothing outside it)")
    p.add_argument("-o", "--out", default="separated", help="output folder (default: ./separated, as vocalex separate)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="files separated at the same time (default 1)")
    p.add_argument("--max-upload-mb", type=float, default=1024, metavar="MB", help="largest upload (default 1024 MB)")
    p.add_argument("--keep-alive", type=float, default=5.0, metavar="SECONDS",
                   help="how long a closed page's jobs and live run outlive it, for a reload (default 5)")
    p.add_argument("--no-browser", action="store_true", help="only print the address")
    p.set_defaults(handler=run)


def run(args) -> int:
    from vocalex.studio.server import serve

    return serve(args.host, args.port, root=args.root, out=args.out, open_browser=not args.no_browser,
                 concurrency=args.jobs, max_upload=int(args.max_upload_mb * (1 << 20)), grace=args.keep_alive)
