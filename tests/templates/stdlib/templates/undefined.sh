#!/bin/bash
echo {{ cluster.nmae }}
