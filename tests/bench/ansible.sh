#!/bin/bash
# tests/bench/ansible.sh DIR: ansible-playbook with DIR/ansible.cfg (pipelining
# on, forks = hosts, gather_facts off; the shell module runs the same five
# scripts). A fresh ControlPath directory per run, so every run connects anew
# like the other tools; the masters exit 2 s after the run.
set -euo pipefail
dir=$1
ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d /tmp/bench-acp.XXXXXX)
export ANSIBLE_SSH_CONTROL_PATH_DIR ANSIBLE_CONFIG=$dir/ansible.cfg
trap 'sleep 0; rm -rf "$ANSIBLE_SSH_CONTROL_PATH_DIR"' EXIT
ansible-playbook -i "$dir/hosts.ini" "$dir/playbook.yml" >/dev/null
