package dev.sparktune.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.Arrays;

/**
 * The special tokens put around one encoded sequence, e.g. {@code [CLS] ... [SEP]} for BERT or {@code <s> ...}
 * for Llama. We encode content without special tokens and frame it ourselves, so that truncation can cut the
 * content on either side and still keep the frame, as Hugging Face does.
 */
record Framing(long[] prefix, long[] suffix) {

    private static final String PROBE = "a";

    /** Llama style: {@code add_bos_token} / {@code add_eos_token} decide the frame on their own. */
    static Framing fromFlags(SpecialToken bos, SpecialToken eos) {
        return new Framing(bos == null ? new long[0] : new long[] {bos.id()},
                eos == null ? new long[0] : new long[] {eos.id()});
    }

    /**
     * Reads the frame off tokenizer.json's post-processor: encodes a probe with and without special tokens and
     * takes what surrounds the bare ids. Null if the post-processor does more than surround (none we know does).
     */
    static Framing probe(HuggingFaceTokenizer tokenizer) {
        long[] bare = tokenizer.encode(PROBE, false, false).getIds();
        long[] framed = tokenizer.encode(PROBE, true, false).getIds();
        for (int start = 0; start + bare.length <= framed.length; start++) {
            if (Arrays.equals(framed, start, start + bare.length, bare, 0, bare.length)) {
                return new Framing(Arrays.copyOfRange(framed, 0, start),
                        Arrays.copyOfRange(framed, start + bare.length, framed.length));
            }
        }
        return null;
    }

    int size() {
        return prefix.length + suffix.length;
    }

    long[] wrap(long[] content) {
        long[] ids = new long[size() + content.length];
        System.arraycopy(prefix, 0, ids, 0, prefix.length);
        System.arraycopy(content, 0, ids, prefix.length, content.length);
        System.arraycopy(suffix, 0, ids, prefix.length + content.length, suffix.length);
        return ids;
    }
}
