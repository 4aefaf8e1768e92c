package dev.sparktune.ml;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * One loaded model per JVM and {@link ModelFiles#key()}, shared by every task an executor runs at once (inference
 * only reads the weights). Loaded on first use, from the files of the JVM's {@code ModelFolderCache}; a model no
 * task is using is closed when another one is loaded, so an executor that scores with a sequence of models holds one
 * in memory at a time.
 */
final class ExecutorModels {

    private static final class Entry {
        final LoadedModel model;
        int users;

        Entry(LoadedModel model) {
            this.model = model;
        }
    }

    private static final Map<String, Entry> LOADED = new HashMap<>();

    private ExecutorModels() {
    }

    /** The model of these files, loaded if this JVM has not yet; pair with {@link #release}. */
    static synchronized LoadedModel acquire(ModelFiles files) {
        Entry entry = LOADED.get(files.key());
        if (entry == null) {
            for (Iterator<Entry> it = LOADED.values().iterator(); it.hasNext(); ) {
                Entry idle = it.next();
                if (idle.users == 0) {
                    idle.model.close();
                    it.remove();
                }
            }
            entry = new Entry(LoadedModel.load(files));
            LOADED.put(files.key(), entry);
        }
        entry.users++;
        return entry.model;
    }

    static synchronized void release(ModelFiles files) {
        Entry entry = LOADED.get(files.key());
        if (entry != null && entry.users > 0) {
            entry.users--;
        }
    }
}
