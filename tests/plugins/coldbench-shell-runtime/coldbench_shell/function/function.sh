# The coldbench function in shell, with the contract of coldbench's functions/README.md:
# which environment this is, whether it was cold, and `work` rounds of SHA-256 over a fixed
# 4 KiB buffer. The bootstrap sources this file once, at init; `handler EVENT` prints the
# response.

instance_id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
initialization_type="${AWS_LAMBDA_INITIALIZATION_TYPE:-on-demand}"
invocation=0
# BUF, bytes 0x00 0x01 ... 0xff repeated to 4,096, as printf escapes
byte_escapes="$(printf '\\x%02x' {0..255})"
buffer=""
for _ in {1..16}; do buffer+="${byte_escapes}"; done

# state = SHA256(state || BUF), $1 times; prints the hex digest ("" for none)
sha256_rounds() {
  local state="" escapes i j
  for ((i = 0; i < $1; i++)); do
    escapes=""
    for ((j = 0; j < ${#state}; j += 2)); do escapes+="\\x${state:j:2}"; done
    state="$(printf "${escapes}${buffer}" | sha256sum)"
    state="${state%% *}"
  done
  printf '%s' "${state}"
}

handler() {
  local event="$1" work=0 cold=false
  invocation=$((invocation + 1))
  if [[ "${event}" =~ \"work\"[[:space:]]*:[[:space:]]*([0-9]+) ]]; then
    work=$((10#${BASH_REMATCH[1]}))
  fi
  if ((invocation == 1)) && [[ "${initialization_type}" != "provisioned-concurrency" ]]; then
    cold=true
  fi
  printf '{"runtime": "shell", "runtime_version": "%s", "cold": %s, "instance_id": "%s", "invocation": %d, "initialization_type": "%s", "work": %d, "digest": "%s"}\n' \
    "${BASH_VERSION}" "${cold}" "${instance_id}" "${invocation}" "${initialization_type}" \
    "${work}" "$(sha256_rounds "${work}")"
}
