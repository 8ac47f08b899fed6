# Sourced by run.sh and test.sh: a Python environment with what they need, built once and then reused.
#   . scripts/env.sh requirements.txt         the app's packages
#   . scripts/env.sh requirements-test.txt    the app's and the tests' packages
# An activated virtual environment is used as it is; otherwise .venv here (created the first time).
# Packages are installed only when the requirements changed since the last install into that environment.
requirements=$1
TORCH_VERSION=${TORCH_VERSION:-2.13.0}  # the version the tests run with
TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu  # PyTorch's own index of CPU-only builds

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
  fi
  . .venv/bin/activate
fi

pip_install() { python -m pip install -q --disable-pip-version-check "$@"; }

install_torch() {
  if python -c "import torch" 2>/dev/null; then
    return
  fi
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "== torch $TORCH_VERSION (an NVIDIA GPU is here: the CUDA build from PyPI)"
    pip_install "torch==$TORCH_VERSION"
  # No GPU: PyPI's Linux torch is the CUDA build (several GB of NVIDIA libraries); PyTorch's CPU index has the
  # CPU build. Where that index cannot be reached (a mirror of PyPI only), whatever pip finds.
  elif python -c "import urllib.request; urllib.request.urlopen('$TORCH_CPU_INDEX/torch/', timeout=5)" 2>/dev/null \
       && pip_install --index-url "$TORCH_CPU_INDEX" "torch==$TORCH_VERSION"; then
    echo "== torch $TORCH_VERSION, CPU build from $TORCH_CPU_INDEX"
  else
    echo "== torch $TORCH_VERSION from pip's own index ($TORCH_CPU_INDEX cannot be reached)"
    pip_install "torch==$TORCH_VERSION"
  fi
}

stamp="$VIRTUAL_ENV/.naming-$(basename "$requirements" .txt)"
wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  install_torch
  echo "== pip install -r $requirements"
  pip_install -r "$requirements"
  echo "$wanted" > "$stamp"
fi
