package dev.sparktune.ml;

import dev.sparktune.arch.Bert;
import dev.sparktune.arch.Llama;
import dev.sparktune.config.GeneratingConfig;
import dev.sparktune.generate.GenerationConfig;
import dev.sparktune.generate.Generator;
import dev.sparktune.generate.StopTokens;
import dev.sparktune.io.LabelsFile;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.rows.TokenArrays;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.TaskCompletionListener;

/**
 * Scores a partition on an executor: rows stream through in batches of {@code batchSize}, each row comes out
 * with its input columns and the model's output columns appended. Only the file locations, column
 * positions and class names travel in the closure; the model comes from this JVM's {@link ExecutorModels}.
 */
final class ScorePartition implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;

    /**
     * Which columns feed the model, by position in the input rows.
     *
     * @param textColumn  name of the text column (for messages)
     * @param text        the text column, or -1 when token ids are given
     * @param inputIds    the token-id column, or -1
     * @param labels      causal LM: per-token targets (-100 = not scored), or -1 to score the input ids
     * @param segmentIds  causal LM: packed rows' segment ids, or -1
     * @param messages    causal LM generation: the conversation column, or null (the text or ids are the prompt)
     */
    record Columns(String textColumn, int text, int inputIds, int labels, int segmentIds, Messages messages)
            implements Serializable {
    }

    /**
     * A conversation column (array of turns) and where a turn's fields are: rows made by a Java function reach the
     * scorer without a schema, so fields are read by position.
     */
    record Messages(int column, int role, int content) implements Serializable {
    }

    /**
     * How to score.
     *
     * @param batchSize    rows per forward pass (and per generation batch)
     * @param maxLength    classifier: tokens kept per text; 0 = the tokenizer's model_max_length
     * @param tailLength   classifier: of those, how many come from the end of a longer text; 0 = none
     * @param generation   causal LM: the decoding settings, or null for no generation
     * @param chatTemplate a built-in template for the messages column, or null for the model's own
     * @param seed         seeds sampling
     * @param labels       a classifier's class names from config.json's id2label, or null when it has none
     */
    record Settings(int batchSize, int maxLength, int tailLength, GeneratingConfig generation, String chatTemplate, long seed,
                    List<String> labels) implements Serializable {
        Settings {
            labels = labels == null ? null : List.copyOf(labels);
        }
    }

    private final ModelFiles files;
    private final ModelKind kind;
    private final Columns columns;
    private final Settings settings;
    private final StructType output;

    /**
     * @param output the schema of the rows out: the input columns, then the model's; the rows carry it, since a
     *               Java function downstream may read them before Spark serialises them
     */
    ScorePartition(ModelFiles files, ModelKind kind, Columns columns, Settings settings, StructType output) {
        this.files = files;
        this.kind = kind;
        this.columns = columns;
        this.settings = settings;
        this.output = output;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) {
            return rows;
        }
        LoadedModel model = ExecutorModels.acquire(files);
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((TaskCompletionListener) context -> ExecutorModels.release(files));
        }
        return new Iterator<>() {
            private final ArrayDeque<Row> scored = new ArrayDeque<>();

            @Override
            public boolean hasNext() {
                if (scored.isEmpty() && rows.hasNext()) {
                    List<Row> batch = new ArrayList<>(settings.batchSize());
                    while (batch.size() < settings.batchSize() && rows.hasNext()) {
                        batch.add(rows.next());
                    }
                    scored.addAll(score(model, batch));
                }
                return !scored.isEmpty();
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return scored.removeFirst();
            }
        };
    }

    private List<Row> score(LoadedModel model, List<Row> batch) {
        List<long[]> ids = tokenIds(model, batch);
        List<Integer> present = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            if (ids.get(i) != null && ids.get(i).length > 0) {
                present.add(i);
            }
        }
        Object[][] outputs = new Object[batch.size()][kind.outputCount(settings.generation() != null)];
        if (!present.isEmpty() && kind == ModelKind.CLASSIFIER) {
            double[][] probabilities = BatchScorer.classProbabilities((Bert) model.model(),
                    present.stream().map(ids::get).toList(), model.manager());
            List<String> names = classNames(probabilities[0].length, model.source());
            for (int k = 0; k < present.size(); k++) {
                int best = argMax(probabilities[k]);
                outputs[present.get(k)] = new Object[] {(double) best, Vectors.dense(probabilities[k]), names.get(best)};
            }
        } else if (!present.isEmpty()) {
            List<TokenizedRow> rows = new ArrayList<>();
            for (int i : present) {
                rows.add(new TokenizedRow(ids.get(i), TokenArrays.longs(batch.get(i), columns.labels()),
                        TokenArrays.longs(batch.get(i), columns.segmentIds()), null, null));
            }
            Double[] losses = BatchScorer.meanTokenLosses((Llama) model.model(), rows, model.manager());
            for (int k = 0; k < present.size(); k++) {
                Double loss = losses[k];
                outputs[present.get(k)][0] = loss;
                outputs[present.get(k)][1] = loss == null ? null : Math.exp(loss);
            }
        }
        if (settings.generation() != null) {
            generate(model, batch, ids, outputs);
        }
        List<Row> out = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Row row = batch.get(i);
            Object[] values = new Object[row.size() + outputs[i].length];
            for (int c = 0; c < row.size(); c++) {
                values[c] = row.get(c);
            }
            System.arraycopy(outputs[i], 0, values, row.size(), outputs[i].length);
            out.add(new GenericRowWithSchema(values, output));
        }
        return out;
    }

    /**
     * Completes each row's prompt into the last output column: the conversation of the messages column through the
     * chat template with the assistant's cue appended (as {@code sparktune generate --chat}), else the row's token
     * ids or tokenized text as they are. A row without a prompt gets null.
     */
    private void generate(LoadedModel model, List<Row> batch, List<long[]> ids, Object[][] outputs) {
        Tokenizer tokenizer = model.requireTokenizer(columns.textColumn());
        List<Integer> rows = new ArrayList<>();
        List<long[]> prompts = new ArrayList<>();
        ChatTemplate template = columns.messages() != null ? model.chatTemplate(settings.chatTemplate()) : null;
        for (int i = 0; i < batch.size(); i++) {
            long[] prompt;
            if (template != null) {
                List<ChatMessage> chat = conversation(batch.get(i), columns.messages());
                prompt = chat == null ? null : tokenizer.encode(template.render(chat, true), false);
            } else {
                prompt = ids.get(i);
            }
            if (prompt != null && prompt.length > 0) {
                rows.add(i);
                prompts.add(prompt);
            }
        }
        if (prompts.isEmpty()) {
            return;
        }
        GenerationConfig config = settings.generation().toGenerationConfig(model.stopTokenIds(), settings.seed());
        Generator generator = new Generator((Llama) model.model(), StopTokens.padTokenId(tokenizer),
                tokens -> tokenizer.decode(tokens, true));
        List<Generator.Output> completions = generator.generate(model.manager(), prompts, config);
        int last = outputs[0].length - 1;
        for (int k = 0; k < rows.size(); k++) {
            outputs[rows.get(k)][last] = completions.get(k).text();
        }
    }

    /** The conversation in a row's messages column, or null when it is null or empty. */
    private static List<ChatMessage> conversation(Row row, Messages messages) {
        if (row.isNullAt(messages.column()) || row.getList(messages.column()).isEmpty()) {
            return null;
        }
        List<ChatMessage> chat = new ArrayList<>();
        for (Object turn : row.getList(messages.column())) {
            Row t = (Row) turn;
            String role = t.isNullAt(messages.role()) ? "" : t.getString(messages.role());
            String content = t.isNullAt(messages.content()) ? "" : t.getString(messages.content());
            chat.add(new ChatMessage(role, content));
        }
        return chat;
    }

    /**
     * The names of a head's classes: id2label's when it names that many; Hugging Face's default {@code LABEL_<i>} when
     * there is no id2label or it holds only such defaults (a config saved before the head was sized, as
     * {@code PretrainedConfig} writes num_labels 2); otherwise the config contradicts the head, an error.
     */
    private List<String> classNames(int classes, String source) {
        List<String> labels = settings.labels();
        if (labels != null && labels.size() == classes) {
            return labels;
        }
        if (labels == null || labels.equals(LabelsFile.numbered(labels.size()).labels())) {
            return LabelsFile.numbered(classes).labels();
        }
        throw new IllegalArgumentException(source + ": config.json's id2label names " + labels.size() + " classes "
                + labels + ", but the classifier head scores " + classes + "; make id2label match the head");
    }

    /** Each row's token ids (null for a null input): the id column as given, or the text tokenized. */
    private List<long[]> tokenIds(LoadedModel model, List<Row> batch) {
        List<long[]> ids = new ArrayList<>(batch.size());
        if (columns.inputIds() >= 0) {
            batch.forEach(row -> ids.add(TokenArrays.longs(row, columns.inputIds())));
            return ids;
        }
        if (columns.text() < 0) {
            batch.forEach(row -> ids.add(null));
            return ids;
        }
        List<Integer> withText = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < batch.size(); i++) {
            ids.add(null);
            if (!batch.get(i).isNullAt(columns.text())) {
                withText.add(i);
                texts.add(batch.get(i).getString(columns.text()));
            }
        }
        if (!texts.isEmpty()) {
            List<long[]> encoded = BatchScorer.encode(model.requireTokenizer(columns.textColumn()), texts,
                    kind == ModelKind.CLASSIFIER, settings.maxLength(), settings.tailLength());
            for (int k = 0; k < withText.size(); k++) {
                ids.set(withText.get(k), encoded.get(k));
            }
        }
        return ids;
    }

    private static int argMax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }
}
