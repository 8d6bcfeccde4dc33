// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BallastTimelock} from "./BallastTimelock.sol";
import {PoolTerms} from "./PoolTerms.sol";

interface IVotes {
    function getPastVotes(address account, uint256 blockNumber) external view returns (uint256);
}

/// @title BallastGovernor
/// @notice Proposals, votes and the hand-off to the timelock. A proposal may
/// only call the governed setters of registered `PoolTerms` contracts (or
/// register another one): anything else is refused when it is proposed, so
/// a vote can never move pool capital or touch another contract.
///
/// Life of a proposal (blocks for voting, seconds for the timelock):
/// Pending until `snapshot` = proposal block + `votingDelay`; Active until
/// `deadline` = snapshot + `votingPeriod`; then Defeated or Succeeded;
/// Queued in the timelock; Executed from its eta to eta + grace period, else
/// Expired. The proposer may cancel while it is Pending.
///
/// Counting: voting power is the token's delegated votes at the snapshot
/// block. In `SIMPLE` mode a vote weighs its votes; in `QUADRATIC` mode it
/// weighs isqrt(votes). Quorum is always counted in votes (for + abstain, not
/// square-rooted) so it means the same share of the supply in either mode; a
/// proposal succeeds when quorum is met and weighted for > weighted against.
contract BallastGovernor {
    enum ProposalState {
        Pending,
        Active,
        Defeated,
        Succeeded,
        Queued,
        Executed,
        Canceled,
        Expired
    }

    uint8 public constant SIMPLE = 0;
    uint8 public constant QUADRATIC = 1;
    uint8 public constant AGAINST = 0;
    uint8 public constant FOR = 1;
    uint8 public constant ABSTAIN = 2;

    struct Proposal {
        address proposer;
        uint64 snapshot;
        uint64 deadline;
        uint64 eta;
        bool executed;
        bool canceled;
        uint256 againstWeight;
        uint256 forWeight;
        uint256 abstainWeight;
        uint256 quorumVotes; // raw votes for + abstain
    }

    struct Actions {
        address[] targets;
        uint256[] values;
        bytes[] calldatas;
    }

    IVotes public immutable token;
    BallastTimelock public immutable timelock;
    uint64 public immutable votingDelay; // blocks
    uint64 public immutable votingPeriod; // blocks
    uint256 public immutable quorum; // votes (token base units)
    uint256 public immutable proposalThreshold; // votes needed to propose
    uint8 public immutable countingMode;

    mapping(address => bool) public isTerms;
    mapping(bytes32 => Proposal) private _proposals;
    mapping(bytes32 => Actions) private _actions;
    mapping(bytes32 => mapping(address => bool)) public hasVoted;
    bytes32[] public proposalIds;

    event TermsRegistered(address indexed terms);
    event ProposalCreated(
        bytes32 indexed proposalId,
        address indexed proposer,
        uint256 snapshot,
        uint256 deadline,
        string description
    );
    event VoteCast(address indexed voter, bytes32 indexed proposalId, uint8 support, uint256 votes, uint256 weight);
    event ProposalQueued(bytes32 indexed proposalId, uint256 eta);
    event ProposalExecuted(bytes32 indexed proposalId);
    event ProposalCanceled(bytes32 indexed proposalId);

    error InvalidSettings();
    error ZeroAddress();
    error NotTimelock(address caller);
    error EmptyProposal();
    error ProposalLengthMismatch(uint256 targets, uint256 values, uint256 calldatas);
    error TargetNotAllowed(uint256 index, address target);
    error SelectorNotAllowed(uint256 index, address target, bytes4 selector);
    error ValueNotAllowed(uint256 index, uint256 value);
    error ProposalExists(bytes32 proposalId);
    error BelowProposalThreshold(address proposer, uint256 votes, uint256 threshold);
    error UnknownProposal(bytes32 proposalId);
    error VotingNotStarted(bytes32 proposalId, uint256 startsAfterBlock);
    error VotingClosed(bytes32 proposalId, uint256 deadline);
    error AlreadyVoted(bytes32 proposalId, address voter);
    error VotingCanceled(bytes32 proposalId);
    error InvalidSupport(uint8 support);
    error NoVotingPower(address voter, uint256 snapshot);
    error ProposalNotSucceeded(bytes32 proposalId, ProposalState state);
    error ProposalNotQueued(bytes32 proposalId, ProposalState state);
    error ExecuteBeforeTimelock(bytes32 proposalId, uint256 eta, uint256 now_);
    error NotProposer(address caller);
    error ProposalNotPending(bytes32 proposalId, ProposalState state);

    constructor(
        address token_,
        address timelock_,
        uint64 votingDelay_,
        uint64 votingPeriod_,
        uint256 quorum_,
        uint256 proposalThreshold_,
        uint8 countingMode_,
        address[] memory terms
    ) {
        if (token_ == address(0) || timelock_ == address(0)) revert ZeroAddress();
        if (votingPeriod_ == 0 || quorum_ == 0 || countingMode_ > QUADRATIC) revert InvalidSettings();
        token = IVotes(token_);
        timelock = BallastTimelock(timelock_);
        votingDelay = votingDelay_;
        votingPeriod = votingPeriod_;
        quorum = quorum_;
        proposalThreshold = proposalThreshold_;
        countingMode = countingMode_;
        for (uint256 i = 0; i < terms.length; ++i) _register(terms[i]);
    }

    /// @notice Add a PoolTerms contract proposals may govern (only through a proposal).
    function registerTerms(address terms) external {
        if (msg.sender != address(timelock)) revert NotTimelock(msg.sender);
        _register(terms);
    }

    function propose(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        string calldata description
    ) external returns (bytes32 id) {
        uint256 n = targets.length;
        if (n == 0) revert EmptyProposal();
        if (values.length != n || calldatas.length != n) {
            revert ProposalLengthMismatch(n, values.length, calldatas.length);
        }
        for (uint256 i = 0; i < n; ++i) _checkAction(i, targets[i], values[i], calldatas[i]);
        uint256 votes = token.getPastVotes(msg.sender, block.number - 1);
        if (votes < proposalThreshold) revert BelowProposalThreshold(msg.sender, votes, proposalThreshold);
        id = hashProposal(targets, values, calldatas, keccak256(bytes(description)));
        if (_proposals[id].proposer != address(0)) revert ProposalExists(id);
        uint64 snapshot = uint64(block.number) + votingDelay;
        uint64 deadline = snapshot + votingPeriod;
        Proposal storage p = _proposals[id];
        p.proposer = msg.sender;
        p.snapshot = snapshot;
        p.deadline = deadline;
        _actions[id] = Actions(targets, values, calldatas);
        proposalIds.push(id);
        emit ProposalCreated(id, msg.sender, snapshot, deadline, description);
    }

    /// @notice Vote against (0), for (1) or abstain (2) with the caller's votes at the snapshot.
    function castVote(bytes32 id, uint8 support) external returns (uint256 weight) {
        Proposal storage p = _proposal(id);
        if (block.number <= p.snapshot) revert VotingNotStarted(id, p.snapshot);
        if (block.number > p.deadline) revert VotingClosed(id, p.deadline);
        if (p.canceled) revert VotingCanceled(id);
        if (support > ABSTAIN) revert InvalidSupport(support);
        if (hasVoted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        uint256 votes = token.getPastVotes(msg.sender, p.snapshot);
        if (votes == 0) revert NoVotingPower(msg.sender, p.snapshot);
        hasVoted[id][msg.sender] = true;
        weight = countingMode == QUADRATIC ? isqrt(votes) : votes;
        if (support == AGAINST) {
            p.againstWeight += weight;
        } else if (support == FOR) {
            p.forWeight += weight;
            p.quorumVotes += votes;
        } else {
            p.abstainWeight += weight;
            p.quorumVotes += votes;
        }
        emit VoteCast(msg.sender, id, support, votes, weight);
    }

    /// @notice Hand a succeeded proposal to the timelock; it may run from the returned eta.
    function queue(bytes32 id) external returns (uint256 eta) {
        ProposalState s = state(id);
        if (s != ProposalState.Succeeded) revert ProposalNotSucceeded(id, s);
        Actions storage a = _actions[id];
        (, eta) = timelock.queue(a.targets, a.values, a.calldatas, id);
        _proposals[id].eta = uint64(eta);
        emit ProposalQueued(id, eta);
    }

    /// @notice Run a queued proposal once its timelock delay has passed (anyone may call).
    function execute(bytes32 id) external {
        ProposalState s = state(id);
        if (s != ProposalState.Queued) revert ProposalNotQueued(id, s);
        Proposal storage p = _proposals[id];
        if (block.timestamp < p.eta) revert ExecuteBeforeTimelock(id, p.eta, block.timestamp);
        p.executed = true;
        Actions storage a = _actions[id];
        timelock.execute(a.targets, a.values, a.calldatas, id);
        emit ProposalExecuted(id);
    }

    /// @notice The proposer withdraws a proposal before voting starts.
    function cancel(bytes32 id) external {
        Proposal storage p = _proposal(id);
        if (msg.sender != p.proposer) revert NotProposer(msg.sender);
        ProposalState s = state(id);
        if (s != ProposalState.Pending) revert ProposalNotPending(id, s);
        p.canceled = true;
        emit ProposalCanceled(id);
    }

    function state(bytes32 id) public view returns (ProposalState) {
        Proposal storage p = _proposal(id);
        if (p.executed) return ProposalState.Executed;
        if (p.canceled) return ProposalState.Canceled;
        if (block.number <= p.snapshot) return ProposalState.Pending;
        if (block.number <= p.deadline) return ProposalState.Active;
        if (p.quorumVotes < quorum || p.forWeight <= p.againstWeight) return ProposalState.Defeated;
        if (p.eta == 0) return ProposalState.Succeeded;
        if (block.timestamp > p.eta + timelock.gracePeriod()) return ProposalState.Expired;
        return ProposalState.Queued;
    }

    /// @notice Everything about one proposal in one call (for CLIs and dashboards).
    function proposalInfo(bytes32 id)
        external
        view
        returns (Proposal memory proposal, ProposalState state_, address[] memory targets, bytes[] memory calldatas)
    {
        state_ = state(id);
        proposal = _proposals[id];
        targets = _actions[id].targets;
        calldatas = _actions[id].calldatas;
    }

    function proposalCount() external view returns (uint256) {
        return proposalIds.length;
    }

    function hashProposal(
        address[] calldata targets,
        uint256[] calldata values,
        bytes[] calldata calldatas,
        bytes32 descriptionHash
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(targets, values, calldatas, descriptionHash));
    }

    /// @notice Integer square root, rounded down.
    function isqrt(uint256 x) public pure returns (uint256 r) {
        if (x == 0) return 0;
        r = x;
        uint256 y = (x >> 1) + 1;
        while (y < r) {
            r = y;
            y = (x / y + y) >> 1;
        }
    }

    function _proposal(bytes32 id) private view returns (Proposal storage p) {
        p = _proposals[id];
        if (p.proposer == address(0)) revert UnknownProposal(id);
    }

    function _register(address terms) private {
        if (terms == address(0)) revert ZeroAddress();
        isTerms[terms] = true;
        emit TermsRegistered(terms);
    }

    /// @dev The allow-list: registered PoolTerms' governed setters, and registerTerms here.
    function _checkAction(uint256 i, address target, uint256 value, bytes calldata data) private view {
        if (value != 0) revert ValueNotAllowed(i, value);
        bytes4 selector = data.length >= 4 ? bytes4(data[:4]) : bytes4(0);
        if (target == address(this)) {
            if (selector != this.registerTerms.selector) revert SelectorNotAllowed(i, target, selector);
            return;
        }
        if (!isTerms[target]) revert TargetNotAllowed(i, target);
        if (
            selector != PoolTerms.setCoverageLimit.selector && selector != PoolTerms.setPaused.selector
                && selector != PoolTerms.confirmPause.selector && selector != PoolTerms.addCoveredContract.selector
                && selector != PoolTerms.removeCoveredContract.selector
                && selector != PoolTerms.setPremiumModel.selector && selector != PoolTerms.setOracles.selector
                && selector != PoolTerms.setGuardian.selector
        ) revert SelectorNotAllowed(i, target, selector);
    }
}
