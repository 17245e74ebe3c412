"""irctest controller for parley.

irctest (https://github.com/progval/irctest, the IRC server conformance suite;
see ../shared/irctest/README.md) starts the server under test once per test
through a controller. This one starts parley:

    deno run -A <repo>/main.ts server --host 127.0.0.1 --port <own loopback port>
      --irc-port <irctest's port> --irc-name My.Little.Server --no-console
      --rate 0 --max-per-ip 0 --data <scratch>/parley.db
      --oper-password-file <scratch>/oper-password

and tells irctest what parley implements today, which decides whether a test
is skipped (not offered) or run (and maybe failed). Declare only what is really
implemented: a declared feature that is half done should fail loudly.

Run from irctest's folder (tests/irctest_test.ts does this, with -n 2 and
--ignore for the modules out of scope):

    cd "$IRCTEST_DIR"
    PYTHONPATH="<repo>/tests/irctest:$IRCTEST_DIR:$IRCTEST_DIR/.." /usr/bin/python3 -m pytest \\
      -p no:cacheprovider -p parley_controller --controller parley_controller \\
      --timeout 30 -m "not implementation-specific and not deprecated and not strict" \\
      -rfEs --tb=short irctest/server_tests/

`-p parley_controller` loads this module as a pytest plugin before irctest's
conftest.py: it makes conftest.py loadable by Debian 12's pytest 7.2 / pluggy 1.0
(see _accept_new_style_hook_wrappers) and stops servers irctest leaves running
(see _LIVE). `$IRCTEST_DIR/..` is where loopback.py lives (a mixin keeping every
port on 127.0.0.1 25000-25499); this file also finds it there by itself.

Accounts: registerUser registers as a client would, with IRCv3 `REGISTER * *
PASSWORD` over IRC (a password too long for one IRC line, as sasl.py's 592
characters, with `/register` on parley's line port). parley is started with
`--min-password-length 1`: irctest's passwords are short ("sesame", "bar"),
and parley's default refuses passwords under 8 characters. A test asking for
REGISTER before connecting gets it (parley's default); the others get
`--no-register-before-connect`, which is what they check. Email-verified
registration is not offered (parley keeps no email): those tests are skipped.

Environment:
    PARLEY_DENO        the deno binary (default: `deno` on PATH)
    PARLEY_REPO        the checkout to run (default: the one holding this file)
    IRCTEST_DEBUG_LOGS=1  stream parley's log to pytest's output instead of a file
"""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, List, Optional, Set, Type

import pytest

# loopback.py sits in the folder above irctest's checkout (../shared/irctest/).
_HERE = Path(__file__).resolve().parent
for _candidate in (
    os.environ.get("IRCTEST_DIR"),
    str(Path.cwd()),  # pytest runs from irctest's folder
):
    if _candidate:
        _parent = str(Path(_candidate).resolve().parent)
        if (Path(_parent) / "loopback.py").is_file() and _parent not in sys.path:
            sys.path.append(_parent)


def _accept_new_style_hook_wrappers() -> None:
    """Lets irctest's conftest.py load under pluggy < 1.1 (Debian 12: pytest 7.2, pluggy 1.0).

    conftest.py declares `@pytest.hookimpl(wrapper=True)` (a new-style wrapper:
    `yield` gives the inner result or raises the inner exception), which older
    pluggy refuses with a TypeError. This translates such a wrapper into an
    old-style `hookwrapper=True` one with the same behaviour. It only works when
    this module is loaded before conftest.py, i.e. with `-p parley_controller`;
    with pluggy >= 1.1 it does nothing.
    """
    import functools
    import inspect

    import pluggy

    marker = pluggy.HookimplMarker
    if "wrapper" in inspect.signature(marker.__call__).parameters:
        return
    original = marker.__call__

    def call(self, function=None, wrapper=False, **opts):  # type: ignore[no-untyped-def]
        if not wrapper:
            return original(self, function, **opts)

        def adapt(func):  # type: ignore[no-untyped-def]
            @functools.wraps(func)
            def old_style(*args):  # type: ignore[no-untyped-def]
                gen = func(*args)
                next(gen)
                outcome = yield
                try:
                    try:
                        result = outcome.get_result()
                    except BaseException as error:
                        gen.throw(error)
                    else:
                        gen.send(result)
                except StopIteration as stop:
                    outcome.force_result(stop.value)
                except BaseException as error:
                    outcome._excinfo = (type(error), error, error.__traceback__)
                else:
                    gen.close()
                    raise RuntimeError(f"hook wrapper {func.__name__} yielded twice")

            # pluggy passes the hook's arguments by the names in the signature.
            old_style.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
            return original(self, old_style, hookwrapper=True, **opts)

        return adapt if function is None else adapt(function)

    marker.__call__ = call  # type: ignore[method-assign]


_accept_new_style_hook_wrappers()

from loopback import LoopbackPortsMixin  # noqa: E402

from irctest.basecontrollers import (  # noqa: E402
    BaseServerController,
    DirectoryBasedController,
    ProcessStopped,
)
from irctest.runner import NotImplementedByController  # noqa: E402
from irctest.specifications import Capabilities, OptionalBehaviors  # noqa: E402

if TYPE_CHECKING:  # irctest.cases is imported by conftest.py, after its assert-rewrite hook
    from irctest.cases import BaseServerTestCase

#: The checkout whose main.ts is run: tests/irctest/ is two levels below its root.
REPO_ROOT = Path(os.environ.get("PARLEY_REPO") or _HERE.parent.parent).resolve()

#: irctest's operator tests send `OPER operuser operpassword`; parley's OPER
#: checks the last parameter against the first line of --oper-password-file.
OPER_PASSWORD = "operpassword"

#: Bounds on every wait of the controller (seconds).
START_TIMEOUT = 20.0
REGISTER_TIMEOUT = 10.0


def _deno() -> str:
    deno = os.environ.get("PARLEY_DENO") or shutil.which("deno")
    if not deno:
        raise RuntimeError("cannot start parley: deno is not on PATH (set PARLEY_DENO)")
    return deno


class ParleyController(LoopbackPortsMixin, BaseServerController, DirectoryBasedController):
    software_name = "parley"
    _port_wait_interval = 0.02

    # SASL PLAIN (src/front/irc/sasl.ts); not EXTERNAL: Deno's TLS listener cannot ask
    # for client certificates. No STS.
    supported_sasl_mechanisms: Set[str] = {"PLAIN"}
    supports_sts = False

    # What `CAP LS` offers (src/front/irc/capabilities.ts: CAPABILITIES).
    capabilities = frozenset(
        (
            Capabilities.SERVER_TIME,
            Capabilities.MESSAGE_TAGS,
            Capabilities.BATCH,
            Capabilities.LABELED_RESPONSE,
            Capabilities.ECHO_MESSAGE,
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.EXTENDED_JOIN,
            Capabilities.AWAY_NOTIFY,  # src/front/irc/render.ts (queries.ts: AWAY)
            Capabilities.SETNAME,  # src/front/irc/queries.ts: SETNAME
            Capabilities.MULTI_PREFIX,  # NAMES and WHO (channels.ts, modes.ts)
            # draft/chathistory (src/front/irc/chathistory.ts) is offered too: irctest's enum
            # has no entry for it, and chathistory.py runs whenever CAP REQ is ACKed. Not
            # draft/event-playback: those tests skip.
        )
    )

    optional_behaviors = frozenset(
        (
            OptionalBehaviors.CAP_REQ_MINUS,  # CAP REQ -server-time
            OptionalBehaviors.MULTI_JOIN,  # JOIN #a,#b
            OptionalBehaviors.MULTI_PRIVMSG,  # PRIVMSG a,#b :text
        )
    )

    # What 005 says today (session.ts #welcome).
    isupport = {
        "CASEMAPPING": "ascii",
        "CHANTYPES": "#",
        "PREFIX": "(ov)@+",  # channel operators and voice (src/front/irc/modes.ts)
        "CHANMODES": "b,k,l,imnst",
        "UTF8ONLY": None,
        "WHOX": None,  # src/front/irc/queries.ts
        "ELIST": "MNU",  # LIST masks, !masks, >n and <n (channels.ts)
        "NAMELEN": "100",  # real names (SETNAME)
    }

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._args: Optional[list] = None
        self._log_file = None
        _LIVE.append(self)

    def kill(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)
        super().kill()

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str] = None,
        websocket_port: Optional[int] = None,
    ) -> None:
        if websocket_hostname not in (None, "127.0.0.1"):
            raise NotImplementedByController(f"a WebSocket listener on {websocket_hostname}")
        if password is not None:
            raise NotImplementedByController("server password (PASS before registration)")
        if self.test_config.account_registration_requires_email:
            raise NotImplementedByController("REGISTER with an email (parley keeps no email)")
        assert self.proc is None
        self.hostname = hostname
        self.port = port
        self.create_config()
        assert self.directory
        if websocket_port is not None:
            # parley serves IRC over WebSocket on its chat port (src/front/http: a GET with
            # Upgrade: websocket, text.ircv3.net / binary.ircv3.net), beside line clients and
            # the page: irctest's WebSocket port is parley's chat port.
            chat_port = websocket_port
        else:
            (_, chat_port) = self.get_hostname_and_port()  # parley's line port, unused

        oper_file = self.directory / "oper-password"
        oper_file.write_text(OPER_PASSWORD + "\n")

        args = [
            _deno(),
            "run",
            "-A",
            str(REPO_ROOT / "main.ts"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(chat_port),
            "--irc-port",
            str(port),
            "--irc-name",
            "My.Little.Server",
            "--no-console",
            "--rate",
            "0",
            "--max-per-ip",
            "0",
            "--data",
            str(self.directory / "parley.db"),
            "--oper-password-file",
            str(oper_file),
            # irctest's passwords are short ("sesame", "bar"); parley's default minimum is 8.
            "--min-password-length",
            "1",
        ]
        if not self.test_config.account_registration_before_connect:
            args.append("--no-register-before-connect")
        self._chat_port = chat_port
        self._ssl = ssl
        if ssl:
            self.gen_ssl()
            args += ["--tls-cert", str(self.pem_path), "--tls-key", str(self.key_path)]
        self._args = args
        self._start()

    def _start(self) -> None:
        assert self._args and self.directory
        env = dict(os.environ, NO_COLOR="1")
        if self.debug_mode:
            self.proc = self.execute(
                self._args, proc_name="parley", env=env, stdin=subprocess.DEVNULL
            )
        else:
            self._log_file = open(self.directory / "parley.log", "ab")
            self.proc = self.execute(
                self._args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=self._log_file,
            )
        self.port_open = False
        self.wait_for_port()

    def _log_tail(self) -> str:
        if not self.directory:
            return ""
        try:
            text = (self.directory / "parley.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-20:])

    def wait_for_port(self) -> None:
        """Until the IRC port takes a connection (bounded); the probe never registers."""
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port_open:
            try:
                self.check_is_alive()
            except ProcessStopped as error:
                raise ProcessStopped(f"parley exited at start: {error}\n{self._log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    pass
                self.port_open = True
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"parley did not listen on 127.0.0.1:{self.port} within "
                        f"{START_TIMEOUT:.0f} s\n{self._log_tail()}"
                    )
                time.sleep(self._port_wait_interval)

    def kill_proc(self) -> None:
        super().kill_proc()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def terminate(self) -> None:
        super().terminate()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> None:
        self.kill_proc()
        self._start()

    def wait_for_services(self) -> None:
        # NickServ is part of parley: it is up when the IRC port is.
        self.wait_for_port()

    def registerUser(
        self,
        case: "BaseServerTestCase",
        username: str,
        password: Optional[str] = None,
    ) -> None:
        """Registers `username` as any client would: IRCv3 REGISTER once connected, then QUIT.

        A password too long for one IRC line (512 bytes) is registered with `/register`
        on parley's line port instead, as a line client would.
        """
        assert password, "parley accounts need a password"
        if len(("REGISTER * * " + password).encode()) > 500:
            return self._registerOnLinePort(username, password)
        client = case.addClient(show_io=False)
        case.sendLine(client, "NICK " + username)
        case.sendLine(client, "USER u 0 * :u")
        deadline = time.monotonic() + REGISTER_TIMEOUT
        while case.getRegistrationMessage(client).command != "001":
            if time.monotonic() > deadline:
                raise TimeoutError(f"no 001 for {username} within {REGISTER_TIMEOUT:.0f} s")
        case.getMessages(client)
        case.sendLine(client, "REGISTER * * " + password)
        reply = None
        while reply is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer to REGISTER for {username}")
            for msg in case.getMessages(client):
                if msg.command in ("REGISTER", "FAIL"):
                    reply = msg
                    break
            else:
                time.sleep(0.02)
        assert reply.command == "REGISTER" and reply.params[0] == "SUCCESS", (
            f"parley refused to register {username!r} with password {password!r}: {reply}"
        )
        case.sendLine(client, "QUIT")
        case.assertDisconnected(client)

    def _registerOnLinePort(self, username: str, password: str) -> None:
        """`/nick` and `/register` on parley's line port (any line length up to --max-line)."""
        with socket.create_connection(("127.0.0.1", self._chat_port), timeout=REGISTER_TIMEOUT) as raw:
            sock = raw
            if self._ssl:
                import ssl

                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(raw)
            sock.sendall(f"/nick {username}\n/register {password}\n".encode())
            received = b""
            deadline = time.monotonic() + REGISTER_TIMEOUT
            while time.monotonic() < deadline:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
                text = received.decode(errors="replace")
                if "is yours now" in text:
                    sock.sendall(b"/quit\n")
                    return
                if "\n!!! " in "\n" + text:
                    break
            raise AssertionError(
                f"parley refused to register {username!r} on its line port: {received!r}"
            )


def get_irctest_controller_class() -> Type[ParleyController]:
    return ParleyController


# irctest calls `controller.kill()` from tearDown, which unittest skips when
# setUp raised (a test that skips in setUp after starting the server, as
# bot_mode.py does without BOT, or a setup that failed): that parley would keep
# running and its ports would stay taken in irctest's shared ports file for
# good. Every controller is listed here until it is killed; whatever is left
# after a test's teardown is killed then, and at exit.
_LIVE: List[ParleyController] = []


def _kill_leftovers() -> None:
    while _LIVE:
        controller = _LIVE[-1]
        try:
            controller.kill()
        except Exception as error:  # keep going: the others must go too
            print(f"parley_controller: could not stop a leftover server: {error}", file=sys.stderr)
            if controller in _LIVE:
                _LIVE.remove(controller)


atexit.register(_kill_leftovers)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """(A pytest hook: active when this module is loaded with `-p parley_controller`.)"""
    yield
    _kill_leftovers()
