/* previous_build: reads OUTDIR/<cluster>/model.json (see previous_build.h). */
#include "previous_build.h"
#include "strbuf.h"

json_t *previous_model_load(const char *outdir, const char *cluster, struct diag *d,
			    const char *consequence)
{
	if (!outdir || !cluster)
		return NULL;
	struct strbuf path = STRBUF_INIT;
	strbuf_addf(&path, "%s/%s/model.json", outdir, cluster);
	json_error_t je;
	json_t *prev = json_load_file(path.buf, JSON_REJECT_DUPLICATES, &je);
	/* No previous build is the common case; anything else is reported. */
	if (!prev && d && json_error_code(&je) != json_error_cannot_open_file)
		diag_warning(d, LOC_NONE, "C0612", "%s:%d: the previous build's model is not JSON (%s); %s",
			     path.buf, je.line, je.text, consequence);
	strbuf_release(&path);
	return prev;
}
