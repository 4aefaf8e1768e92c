package dev.sparktune.train;

import dev.sparktune.io.TokenizedRow;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Packs tokenized samples into rows of {@code cutoff_len} tokens, so a batch spends no compute on padding. Online
 * best-fit in the given order: each sample goes into the open row with the least room that still holds it (the
 * earliest such row on ties), else into a new row; O(n log n) and deterministic. Samples are never split or cut:
 * one longer than a row is an error, since cutting belongs to the tokenizing stage ({@code cutoff_len}) where it is
 * counted. {@link Packing} reads the rows back.
 */
public final class SequencePacker {
    private final int rowLength;
    private final long padTokenId;

    /**
     * @param rowLength  tokens per row, usually {@code cutoff_len}
     * @param padTokenId the input id after the last segment; it is masked out of attention and loss, so any valid
     *                   id serves
     */
    public SequencePacker(int rowLength, long padTokenId) {
        if (rowLength < 1) {
            throw new IllegalArgumentException("row length must be at least 1, got " + rowLength);
        }
        this.rowLength = rowLength;
        this.padTokenId = padTokenId;
    }

    /**
     * Packed rows of the samples: rows without segment ids or a class, all of one task, which the rows keep (a
     * packed row never mixes tasks). Each row holds its samples in the order given. A sample without labels is
     * plain text and learns its ids.
     */
    public List<TokenizedRow> pack(List<TokenizedRow> samples) {
        String task = samples.isEmpty() ? null : samples.get(0).task();
        List<List<Integer>> rows = new ArrayList<>();
        TreeSet<Room> open = new TreeSet<>(Comparator.comparingInt(Room::free).thenComparingInt(Room::row));
        for (int i = 0; i < samples.size(); i++) {
            TokenizedRow sample = samples.get(i);
            if (sample.segmentIds() != null || sample.label() != null) {
                throw new IllegalArgumentException("sample " + i + " is " + (sample.label() != null
                        ? "a classification row" : "already packed") + "; packing takes causal-LM samples");
            }
            if (!Objects.equals(sample.task(), task)) {
                throw new IllegalArgumentException("sample " + i + " is of task " + sample.task() + ", sample 0 of "
                        + task + "; a packed row never mixes tasks, so pack each task on its own");
            }
            int length = sample.length();
            if (length > rowLength) {
                throw new IllegalArgumentException("sample " + i + " has " + length + " tokens; packing takes "
                        + "samples of 1 to " + rowLength + " tokens (cut them to cutoff_len when tokenizing)");
            }
            Room room = open.ceiling(new Room(length, -1));
            if (room == null) {
                room = new Room(rowLength, rows.size());
                rows.add(new ArrayList<>());
            } else {
                open.remove(room);
            }
            rows.get(room.row()).add(i);
            if (room.free() > length) {
                open.add(new Room(room.free() - length, room.row()));
            }
        }
        List<TokenizedRow> packed = new ArrayList<>(rows.size());
        for (List<Integer> row : rows) {
            packed.add(layOut(samples, row, task));
        }
        return packed;
    }

    private TokenizedRow layOut(List<TokenizedRow> samples, List<Integer> members, String task) {
        long[] ids = new long[rowLength];
        long[] labels = new long[rowLength];
        long[] segments = new long[rowLength];
        Arrays.fill(ids, padTokenId);
        Arrays.fill(labels, CausalLmLoss.IGNORE_INDEX);
        int at = 0;
        for (int s = 0; s < members.size(); s++) {
            TokenizedRow sample = samples.get(members.get(s));
            System.arraycopy(sample.inputIds(), 0, ids, at, sample.length());
            System.arraycopy(sample.targets(), 0, labels, at, sample.length());
            Arrays.fill(segments, at, at + sample.length(), s + 1);
            at += sample.length();
        }
        return new TokenizedRow(ids, labels, segments, null, task);
    }

    private record Room(int free, int row) {
    }
}
