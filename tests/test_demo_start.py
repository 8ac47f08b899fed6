"""demo.py's start: its options parsed like app.py's (one line, a guess for a typo) and the port
checked before anything else, so a page that cannot start prints one error line and no address."""

import socket

import pytest

import demo
from errors import UserError


def _start(capsys, *argv):
    status = demo.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def busy_port():
    """A port something already listens on (127.0.0.1)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def test_a_mistyped_option_is_one_line_with_a_guess(capsys):
    status, out, err = _start(capsys, "--prot", 7861)
    assert status == 2 and out == ""
    assert err == (
        "error: unknown option --prot (did you mean --port?): python demo.py --help lists the"
        " options\n"
    )


def test_a_stray_argument_is_one_line(capsys):
    status, out, err = _start(capsys, "outputs/my-model")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: unexpected argument(s) ['outputs/my-model']") and "--" in err


@pytest.mark.parametrize("port", [0, 70000])
def test_a_port_out_of_range_is_one_line(capsys, port):
    status, out, err = _start(capsys, "--port", port)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: --port must be from 1 to 65535, got {port}")


def test_a_busy_port_is_one_line_before_the_model_loads_and_no_address(capsys, tmp_path, busy_port):
    # The model folder does not exist: the port's error comes first, so no one waits for a model
    # to load only to learn the port is taken.
    status, out, err = _start(
        capsys, "--model_name_or_path", tmp_path / "none", "--port", busy_port
    )
    assert status == 2 and out == "", out
    assert err == (
        f"error: cannot serve the page on 127.0.0.1:{busy_port}: it is in use (another demo.py?):"
        f" pass another --port, such as --port {busy_port + 1}\n"
    )


def test_a_port_taken_while_the_model_loaded_shows_no_address(capsys, busy_port):
    options = demo.DemoArguments(port=busy_port)
    with pytest.raises(UserError, match="in use"):
        demo.serve(None, options)  # the check comes before the page is touched
    assert capsys.readouterr().out == ""


def test_a_free_port_passes_and_stays_free():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    demo.check_port("127.0.0.1", port)
    with socket.create_server(("127.0.0.1", port)):  # let go at once: the page can take it
        pass
