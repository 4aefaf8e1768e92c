package dev.sparktune.evaluation;

import dev.sparktune.io.TokenizedParquet;
import dev.sparktune.io.TokenizedRow;
import dev.sparktune.train.CausalLmLoss;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.sql.Row;

/**
 * A scored tokenized row's share of a token-weighted mean loss: {mean loss × scored tokens, scored tokens}, the
 * tokens counted as the loss counts them ({@link CausalLmLoss#predictedTokens}); {0, 0} for a row without a loss.
 */
final class TokenLoss implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String lossColumn;

    TokenLoss(String lossColumn) {
        this.lossColumn = lossColumn;
    }

    double[] of(Row row) {
        int loss = row.fieldIndex(lossColumn);
        if (row.isNullAt(loss)) {
            return new double[2];
        }
        TokenizedRow tokens = new TokenizedRow(longs(row, TokenizedParquet.INPUT_IDS), longs(row, TokenizedParquet.LABELS),
                longs(row, TokenizedParquet.SEGMENT_IDS), null, null);
        double n = CausalLmLoss.predictedTokens(tokens);
        return new double[] {row.getDouble(loss) * n, n};
    }

    private static long[] longs(Row row, String column) {
        if (!List.of(row.schema().fieldNames()).contains(column) || row.isNullAt(row.fieldIndex(column))) {
            return null;
        }
        List<Object> values = row.getList(row.fieldIndex(column));
        long[] out = new long[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).longValue();
        }
        return out;
    }
}
