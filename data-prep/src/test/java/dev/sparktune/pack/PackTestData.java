package dev.sparktune.pack;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.tokenize.ChatMessage;
import dev.sparktune.tokenize.ChatTemplate;
import dev.sparktune.tokenize.Tokenizer;
import dev.sparktune.train.CausalLmLoss;
import dev.sparktune.train.SftEncoder;
import dev.sparktune.rows.PrepRows;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;

/**
 * Prepared rows for the tokenize-stage tests, the samples the stage should make of them (computed on the driver
 * with the model module's {@link SftEncoder} and {@link Tokenizer}, the chatml template), and reading back what it
 * wrote with the trainer's reader.
 */
final class PackTestData {
    private static final String[] WORDS = {"the", "model", "reads", "spark", "tables", "quickly", "and", "every",
        "answer", "is", "short", "data", "blue", "green", "river", "token", "cluster", "writes", "parquet", "files"};

    private PackTestData() {
    }

    static String sentence(Random random, int words) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < words; i++) {
            text.append(i == 0 ? "" : " ").append(WORDS[random.nextInt(WORDS.length)]);
        }
        return text.append('.').toString();
    }

    static Row turn(String role, String content) {
        return RowFactory.create(role, content);
    }

    static Row chat(String id, String format, String system, List<Row> turns) {
        return RowFactory.create(id, "chat", format, "train", system, turns, null, null, null, null);
    }

    static Row text(String id, String dataset, String format, String text, String label) {
        return RowFactory.create(id, dataset, format, "train", null, null, text, label, null, null);
    }

    /** Three datasets: chat (alpaca / sharegpt), docs (text), sentiment (classification), and rows to reject. */
    static List<Row> rows() {
        Random random = new Random(7);
        List<Row> out = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            List<Row> turns = new ArrayList<>();
            int rounds = 1 + random.nextInt(i % 3 == 0 ? 3 : 1);
            for (int r = 0; r < rounds; r++) {
                turns.add(turn("user", sentence(random, 2 + random.nextInt(8))));
                turns.add(turn("assistant", sentence(random, 1 + random.nextInt(12))));
            }
            out.add(chat("chat-" + i, i % 2 == 0 ? "alpaca" : "sharegpt", i % 4 == 0 ? "Be brief." : null, turns));
        }
        // the prompt alone is longer than cutoff_len: no reply token survives the cut
        out.add(chat("chat-long-prompt", "alpaca", null,
                List.of(turn("user", sentence(random, 80)), turn("assistant", "yes."))));
        out.add(chat("chat-no-reply", "sharegpt", null, List.of(turn("user", "hello there."))));
        for (int i = 0; i < 25; i++) {
            out.add(text("doc-" + i, "docs", "text", sentence(random, 5 + random.nextInt(i % 5 == 0 ? 150 : 30)),
                    null));
        }
        String[] labels = {"pos", "neg", "neutral"};
        for (int i = 0; i < 30; i++) {
            out.add(text("cls-" + i, "sentiment", "classification",
                    sentence(random, 3 + random.nextInt(i % 7 == 0 ? 90 : 15)), labels[i % 3]));
        }
        out.add(text("cls-empty", "sentiment", "classification", "  ", "pos"));
        return out;
    }

    /** The row with another {@code split}. */
    static Row withSplit(Row row, String split) {
        Object[] values = new Object[row.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = row.get(i);
        }
        values[PrepRows.PREPARED.fieldIndex(PrepRows.SPLIT)] = split;
        return RowFactory.create(values);
    }

    /**
     * The split stage's rule, computed here with the JDK alone: validation when the first 52 bits of SHA-256(id),
     * read as a fraction, are below {@code valSize}.
     */
    static String referenceSplit(String id, double valSize) {
        byte[] d;
        try {
            d = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long bits = 0;
        for (int i = 0; i < 7; i++) {
            bits = (bits << 8) | (d[i] & 0xFF);
        }
        return (bits >>> 4) / Math.pow(2, 52) < valSize ? PrepRows.SPLIT_VALIDATION : PrepRows.SPLIT_TRAIN;
    }

    static List<TokenizedRow> read(SparkSession spark, String path) {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<TokenizedRow> out = new ArrayList<>();
        for (TokenizedParquet.RowGroup group : TokenizedParquet.rowGroups(conf, path)) {
            out.addAll(TokenizedParquet.read(conf, group));
        }
        return out;
    }

    /** A sample with the task it is written with, as the trainer reads it; compared as a multiset. */
    static TokenizedRow tagged(TokenizedRow sample, String task) {
        return new TokenizedRow(sample.inputIds(), sample.labels(), null, null, task);
    }

    /**
     * The causal samples the stage should produce, each with its task, computed on the driver with the model
     * module's classes.
     */
    static List<TokenizedRow> expectedCausal(List<Row> rows, Tokenizer tokenizer, int cutoff, boolean trainOnPrompt) {
        SftEncoder sft = new SftEncoder(tokenizer, ChatTemplate.builtIn("chatml", null, null), cutoff, trainOnPrompt);
        List<TokenizedRow> out = new ArrayList<>();
        for (Row row : rows) {
            String id = row.getString(0);
            if (row.getString(2).equals("text")) {
                long[] ids = tokenizer.encode(row.getString(6));
                for (int start = 0; start < ids.length; start += cutoff) {
                    out.add(tagged(TokenizedRow.pretraining(
                            Arrays.copyOfRange(ids, start, Math.min(ids.length, start + cutoff))), "docs"));
                }
            } else if (id.startsWith("chat-") && !id.equals("chat-no-reply")) {
                // a conversation whose replies all fall past the cut has nothing to learn: the stage rejects it
                TokenizedRow sample = sft.encode(conversation(row));
                if (CausalLmLoss.predictedTokens(sample) > 0) {
                    out.add(tagged(sample, "chat"));
                }
            }
        }
        return out;
    }

    static List<ChatMessage> conversation(Row row) {
        List<ChatMessage> chat = new ArrayList<>();
        if (row.getString(4) != null) {
            chat.add(ChatMessage.system(row.getString(4)));
        }
        for (Row turn : turns(row)) {
            chat.add(new ChatMessage(turn.getString(0), turn.getString(1)));
        }
        return chat;
    }

    /** The test's own rows hold their turns as a Java list. */
    @SuppressWarnings("unchecked")
    static List<Row> turns(Row row) {
        return (List<Row>) row.get(5);
    }

    static <T> Map<T, Integer> multiset(List<T> items) {
        Map<T, Integer> counts = new HashMap<>();
        items.forEach(item -> counts.merge(item, 1, Integer::sum));
        return counts;
    }
}
