/* version: the one place clusterc's version is written. `clusterc --version`
 * prints it and the model records it (model.json "clusterc.version"), so a
 * reviewer sees which compiler produced an out/ tree. */
#ifndef CLUSTERC_VERSION_H
#define CLUSTERC_VERSION_H

#define CLUSTERC_VERSION "0.1.0"

#endif
