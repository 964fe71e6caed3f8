#!/bin/bash
{{#each nodes as node}}
echo {{ node.name }}
